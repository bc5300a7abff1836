; 32-bit arithmetic shift extends the 32-bit sign bit and zero-extends the result.
; r0: 0x7fffffff
w0 = -2147483648
w0 s>>= 31
w1 = -2147483648
w1 s>>= 32
w0 += w1
exit
