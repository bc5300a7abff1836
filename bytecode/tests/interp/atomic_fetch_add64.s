; fetch returns the old value in the source register: old 40 + new 42 = 82.
; r0: 82
r1 = 40
*(u64 *)(r10 - 8) = r1
r2 = 2
r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)
r0 = *(u64 *)(r10 - 8)
r0 += r2
exit
