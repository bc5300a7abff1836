; expect: 3:1 register-width
; message: expected a 64-bit register (r0-r10): sign-extending loads fill 64 bits, found `w0`
w0 = *(s16 *)(r1 + 0)
