; The unconditional swap (ALU64 | END) of 16 bits, zero-extended.
; r0: 0x8877
r0 = 0x1122334455667788 ll
r0 = bswap16 r0
exit
