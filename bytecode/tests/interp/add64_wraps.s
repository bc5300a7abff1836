; 64-bit addition wraps.
; r0: 0
r0 = -1
r0 += 1
exit
