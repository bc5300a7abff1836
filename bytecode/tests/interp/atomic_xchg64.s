; xchg stores the source and returns the old value: memory 9, r2 = 5.
; r0: 95
r1 = 5
*(u64 *)(r10 - 8) = r1
r2 = 9
r2 = xchg_64(r10 - 8, r2)
r0 = *(u64 *)(r10 - 8)
r0 *= 10
r0 += r2
exit
