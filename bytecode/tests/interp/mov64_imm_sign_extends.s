; A 64-bit move of an immediate sign-extends it.
; r0: 0xffffffffffffffff
r0 = -1
exit
