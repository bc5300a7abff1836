; 32-bit addition wraps in 32 bits and clears the upper half.
; r0: 0
r0 = 0x1ffffffff ll
w0 += 1
exit
