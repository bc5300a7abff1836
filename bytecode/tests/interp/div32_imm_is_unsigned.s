; A 32-bit unsigned division reads the immediate as u32: 0xffffffff / 0xffffffff = 1.
; r0: 1
w0 = -1
w0 /= -1
exit
