; expect: 3:7 register-width
; message: expected a 32-bit register (w0-w10), like the destination, found `r2`
w1 += r2
