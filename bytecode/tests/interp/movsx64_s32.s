; r0: 0xffffffff80000000
r1 = 0x1280000000 ll
r0 = (s32)r1
exit
