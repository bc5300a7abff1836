; MEMSX loads sign-extend to 64 bits.
; r0: 0xfffffffffffffffe
r1 = 0xfe
*(u8 *)(r10 - 1) = r1
r0 = *(s8 *)(r10 - 1)
exit
