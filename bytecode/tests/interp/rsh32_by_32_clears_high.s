; A 32-bit shift by 32 is a shift by 0, which still clears the upper half.
; r0: 0x80000000
r0 = 0xffffffff80000000 ll
w0 >>= 32
exit
