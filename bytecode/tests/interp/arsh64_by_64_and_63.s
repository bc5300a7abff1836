; s>>= 64 is s>>= 0; s>>= 63 of a negative number is -1.
; r0: 0x7fffffffffffffff
r0 = 0x8000000000000000 ll
r0 s>>= 64
r1 = r0
r1 s>>= 63
r0 += r1
exit
