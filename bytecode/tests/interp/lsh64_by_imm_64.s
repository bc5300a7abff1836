; An immediate shift of 64 is masked too.
; r0: 3
r0 = 3
r0 <<= 64
exit
