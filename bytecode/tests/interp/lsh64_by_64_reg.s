; Shift amounts are masked to 6 bits in 64-bit: 1 << 64 is 1 << 0.
; r0: 1
r0 = 1
r1 = 64
r0 <<= r1
exit
