; 0xffff_ffff_ffff_ffff % 0xffff_ffff_ffff_fffe = 1.
; r0: 1
r0 = -1
r0 %= -2
exit
