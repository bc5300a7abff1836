; The 32-bit form sign-extends to 32 bits, then zero-extends.
; r0: 0xffffff80
r1 = 0x80
w0 = (s8)w1
exit
