; On a mismatch memory is unchanged and r0 still gets the old value: 7 * 100 + 7.
; r0: 707
r1 = 7
*(u64 *)(r10 - 8) = r1
r0 = 6
r2 = 8
r0 = cmpxchg_64(r10 - 8, r0, r2)
r3 = *(u64 *)(r10 - 8)
r0 *= 100
r0 += r3
exit
