; r0: 0x123456789abcdef0
r0 = 0x123456789abcdef0 ll
exit
