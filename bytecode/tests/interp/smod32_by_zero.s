; 32-bit signed modulo by zero keeps the low half, zero-extended.
; r0: 0xfffffff7
r0 = -9
w1 = 0
w0 s%= w1
exit
