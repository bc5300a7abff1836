; ctx: 01 02 03 04 05 06 07 08
; trap: OutOfBounds at 0
r0 = *(u64 *)(r1 + 4)
exit
