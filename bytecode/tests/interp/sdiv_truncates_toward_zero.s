; Signed division truncates: -7 / 2 = -3.
; r0: -3
r0 = -7
r0 s/= 2
exit
