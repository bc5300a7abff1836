; Sign extension of a positive value keeps it (the upper source bits are ignored).
; r0: 0x7f
r1 = 0xffffffffffffff7f ll
r0 = (s8)r1
exit
