; 32-bit division by zero gives 0, and the upper half is cleared.
; r0: 0
r0 = -1
w1 = 0
w0 /= w1
exit
