; 32-bit atomics without fetch.
; r0: 11
w1 = 12
*(u32 *)(r10 - 4) = r1
w2 = 3
lock *(u32 *)(r10 - 4) |= w2
w2 = 10
lock *(u32 *)(r10 - 4) &= w2
w2 = 1
lock *(u32 *)(r10 - 4) ^= w2
r0 = *(u32 *)(r10 - 4)
exit
