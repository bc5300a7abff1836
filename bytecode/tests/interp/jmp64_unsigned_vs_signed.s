; -1 is the largest unsigned value and the smallest signed one of these.
; r0: 3
r1 = -1
r0 = 0
if r1 < 1 goto +1
r0 += 1
if r1 s> 1 goto +1
r0 += 2
exit
