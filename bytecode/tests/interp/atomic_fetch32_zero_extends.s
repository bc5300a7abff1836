; A 32-bit fetch zero-extends the old value into the source register.
; r0: 0xffffffff
r1 = -1
*(u32 *)(r10 - 4) = r1
r2 = -1
w2 = atomic_fetch_add((u32 *)(r10 - 4), w2)
r0 = r2
exit
