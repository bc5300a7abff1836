; Reloading any byte of a spilled pointer carries pointer bits.
; trap: PointerLeak(ExitValue) at 2
*(u64 *)(r10 - 8) = r1
r0 = *(u8 *)(r10 - 3)
exit
