; Only the low 6 bits of a register shift amount count: 0x100000001 shifts by 1.
; r0: 2
r0 = 1
r1 = 0x100000001 ll
r0 <<= r1
exit
