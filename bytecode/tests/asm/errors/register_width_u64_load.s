; expect: 3:1 register-width
; message: expected a 64-bit register (r0-r10) for a u64 load, found `w0`
w0 = *(u64 *)(r1 + 0)
