; expect: 3:1 register-width
; message: expected a 64-bit register (r0-r10): byte swaps zero-extend to 64 bits, found `w1`
w1 = be16 w1
