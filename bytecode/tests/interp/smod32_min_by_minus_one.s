; INT32_MIN % -1 in 32 bits is 0.
; r0: 0
r0 = -1
w0 = -2147483648
w0 s%= -1
exit
