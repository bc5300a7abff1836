; 32-bit signed division by zero gives 0.
; r0: 0
r0 = -9
w0 s/= 0
exit
