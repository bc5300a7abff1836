; r0: 0xffff8000
r1 = 0xffffffff00008000 ll
w0 = (s16)w1
exit
