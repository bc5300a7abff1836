; Signed division by zero gives 0.
; r0: 0
r0 = -9
r1 = 0
r0 s/= r1
exit
