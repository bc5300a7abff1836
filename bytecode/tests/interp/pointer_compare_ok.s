; Comparing pointers does not leak them (Linux allows it too).
; r0: 1
r0 = 0
if r10 == r1 goto +1
r0 = 1
exit
