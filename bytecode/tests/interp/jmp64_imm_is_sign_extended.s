; A 64-bit comparison sign-extends its immediate: -1 == 0xffff_ffff_ffff_ffff.
; r0: 1
r1 = -1
r0 = 0
if r1 != -1 goto +1
r0 = 1
exit
