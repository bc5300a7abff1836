; r0: 0xffffffffffff8001
r1 = 0x8001 ll
r0 = (s16)r1
exit
