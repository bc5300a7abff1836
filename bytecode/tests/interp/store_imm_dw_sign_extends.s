; A 64-bit store of an immediate sign-extends it; smaller ones truncate it.
; r0: 0xffffffffffff00ff
*(u64 *)(r10 - 8) = -1
*(u8 *)(r10 - 7) = 0
r0 = *(u64 *)(r10 - 8)
exit
