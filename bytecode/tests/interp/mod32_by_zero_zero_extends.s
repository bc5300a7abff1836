; 32-bit modulo by zero leaves the low half and clears the upper half.
; r0: 7
r0 = 0xffffffff00000007 ll
w0 %= 0
exit
