; lock add without fetch leaves the source register alone.
; r0: 0x1000000005
r1 = 0x1000000000 ll
*(u64 *)(r10 - 8) = r1
r2 = 5
lock *(u64 *)(r10 - 8) += r2
r0 = *(u64 *)(r10 - 8)
exit
