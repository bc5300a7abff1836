; JMP32 compares low halves: w1 == 5 holds for 0x100000005, r1 == 5 does not.
; r0: 1
r1 = 0x100000005 ll
r0 = 0
if r1 == 5 goto +2
if w1 == 5 goto +2
r0 = 2
exit
r0 = 1
exit
