; JSET tests dst & src != 0, in 64 bits and in 32.
; r0: 1
r1 = 0x100000000 ll
r0 = 0
if w1 & -1 goto +2
if r1 & r1 goto +1
exit
r0 = 1
exit
