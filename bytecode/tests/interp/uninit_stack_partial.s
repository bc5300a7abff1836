; Writing 4 bytes initializes only those 4.
; trap: UninitializedStackRead at 2
r1 = 1
*(u32 *)(r10 - 8) = r1
r0 = *(u64 *)(r10 - 8)
exit
