; r0: 0xffffffffffff8000
r1 = 0x8000
*(u16 *)(r10 - 2) = r1
r0 = *(s16 *)(r10 - 2)
exit
