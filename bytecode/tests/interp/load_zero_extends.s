; Plain loads zero-extend.
; r0: 0xfe
r1 = -2
*(u64 *)(r10 - 8) = r1
r0 = *(u8 *)(r10 - 8)
exit
