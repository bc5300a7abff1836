; r0: 0xffffffff80000000
r1 = 0x80000000 ll
*(u32 *)(r10 - 4) = r1
r0 = *(s32 *)(r10 - 4)
exit
