; The context is readable at any offset inside it (default bytes 00 01 02 ..).
; r0: 0x0f0e0d0c0b0a0908
r0 = *(u64 *)(r1 + 8)
exit
