; Each fetch returns the value before its operation: 12 + 15 + 10 = 37, memory ends at 11.
; r0: 48
r1 = 12
*(u64 *)(r10 - 8) = r1
r2 = 3
r2 = atomic_fetch_or((u64 *)(r10 - 8), r2)
r3 = 10
r3 = atomic_fetch_and((u64 *)(r10 - 8), r3)
r4 = 1
r4 = atomic_fetch_xor((u64 *)(r10 - 8), r4)
r0 = *(u64 *)(r10 - 8)
r0 += r2
r0 += r3
r0 += r4
exit
