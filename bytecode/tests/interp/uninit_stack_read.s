; Reading stack bytes that were never written traps.
; trap: UninitializedStackRead at 0
r0 = *(u64 *)(r10 - 8)
exit
