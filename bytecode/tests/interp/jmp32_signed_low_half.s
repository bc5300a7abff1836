; 0x00000000_ffffffff is negative as a 32-bit value and positive as a 64-bit one.
; r0: 1
r1 = 0xffffffff ll
r0 = 0
if r1 s< 0 goto +3
if w1 s>= 0 goto +2
r0 = 1
exit
r0 = 2
exit
