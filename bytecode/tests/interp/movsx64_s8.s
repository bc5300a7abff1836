; r0: 0xffffffffffffff80
r1 = 0x1234567890abcd80 ll
r0 = (s8)r1
exit
