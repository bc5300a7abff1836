; expect: 3:21 register-width
; message: expected a 64-bit register (r0-r10) for 8-byte data, found `w1`
*(u64 *)(r10 - 8) = w1
