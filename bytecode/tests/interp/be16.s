; to-be swaps the low 16 bits and zero-extends.
; r0: 0x8877
r0 = 0x1122334455667788 ll
r0 = be16 r0
exit
