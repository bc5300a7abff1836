; A made-up address is not memory.
; trap: OutOfBounds at 1
r1 = 0x1000
r0 = *(u8 *)(r1 + 0)
exit
