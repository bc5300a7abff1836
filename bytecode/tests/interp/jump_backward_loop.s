; A bounded backward loop: sum 1..10.
; r0: 55
; steps: 33
r0 = 0
r1 = 10
r0 += r1
r1 -= 1
if r1 != 0 goto -3
exit
