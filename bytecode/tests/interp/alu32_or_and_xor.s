; 32-bit bitwise operations ignore and clear the upper half.
; r0: 0xf0f0f0f0
r0 = 0xffffffff00000000 ll
w0 |= -252645136
w1 = -1
w0 &= w1
r2 = 0x1234567800000000 ll
w0 ^= w2
exit
