; 32-bit negation of 0x100000001 sees only 1 and gives 0xffffffff.
; r0: 0xffffffff
r0 = 0x100000001 ll
w0 = -w0
exit
