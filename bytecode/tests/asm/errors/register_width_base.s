; expect: 3:15 register-width
; message: expected a 64-bit base register (r0-r10), found `w1`
r0 = *(u64 *)(w1 + 0)
