; 32-bit xchg zero-extends the old value.
; r0: 0xfffffffe
r1 = -2
*(u32 *)(r10 - 4) = r1
r2 = -1
w2 = xchg32_32(r10 - 4, w2)
r0 = r2
exit
