; 64-bit modulo by zero leaves the destination unchanged.
; r0: 0x100000007
r0 = 0x100000007 ll
r1 = 0
r0 %= r1
exit
