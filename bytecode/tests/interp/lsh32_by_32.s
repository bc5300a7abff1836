; 32-bit shift amounts are masked to 5 bits: 1 << 32 is 1, 1 << 33 is 2.
; r0: 3
w0 = 1
w0 <<= 32
w1 = 1
w2 = 33
w1 <<= w2
w0 += w1
exit
