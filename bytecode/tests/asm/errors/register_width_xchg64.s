; expect: 3:22 register-width
; message: expected a 64-bit register (r0-r10) for 8-byte data, found `w2`
r2 = xchg_64(r1 + 0, w2)
