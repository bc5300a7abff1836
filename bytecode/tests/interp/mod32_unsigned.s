; 32-bit unsigned modulo on the low halves only.
; r0: 1
r0 = 0x500000007 ll
w0 %= 3
exit
