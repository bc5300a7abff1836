; 32-bit fetch variants: memory goes 12 -> 15 -> 10 -> 11; fetched 12 + 15 + 10.
; r0: 48
w1 = 12
*(u32 *)(r10 - 4) = r1
w2 = 3
w2 = atomic_fetch_or((u32 *)(r10 - 4), w2)
w3 = 10
w3 = atomic_fetch_and((u32 *)(r10 - 4), w3)
w4 = 1
w4 = atomic_fetch_xor((u32 *)(r10 - 4), w4)
r0 = *(u32 *)(r10 - 4)
r0 += r2
r0 += r3
r0 += r4
exit
