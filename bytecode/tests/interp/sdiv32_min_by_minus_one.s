; INT32_MIN / -1 in 32 bits is INT32_MIN, zero-extended.
; r0: 0x80000000
w0 = -2147483648
w0 s/= -1
exit
