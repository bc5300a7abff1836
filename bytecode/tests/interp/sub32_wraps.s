; 0 - 1 in 32 bits is 0xffffffff, zero-extended.
; r0: 0xffffffff
r0 = 0
w0 -= 1
exit
