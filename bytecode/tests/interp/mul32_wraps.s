; 0x10000 * 0x10000 = 2^32, which is 0 in 32 bits.
; r0: 0
w0 = 65536
w0 *= 65536
exit
