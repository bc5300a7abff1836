; cmpxchg stores when memory equals r0, and r0 gets the old value: 7 * 100 + 8.
; r0: 708
r1 = 7
*(u64 *)(r10 - 8) = r1
r0 = 7
r2 = 8
r0 = cmpxchg_64(r10 - 8, r0, r2)
r3 = *(u64 *)(r10 - 8)
r0 *= 100
r0 += r3
exit
