; Unsigned 64-bit division by a zero register gives 0 (RFC 9669 4.1).
; r0: 0
r0 = 7
r1 = 0
r0 /= r1
exit
