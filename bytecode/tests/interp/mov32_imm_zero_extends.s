; A 32-bit move of -1 is 0xffffffff, not sign-extended.
; r0: 0xffffffff
w0 = -1
exit
