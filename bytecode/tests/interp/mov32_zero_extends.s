; w0 = w0 clears the upper half.
; r0: 0xffffffff
r0 = -1
w0 = w0
exit
