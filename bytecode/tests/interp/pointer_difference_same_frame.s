; The distance between two pointers into one frame is a plain number.
; r0: 16
r0 = r10
r2 = r10
r2 += -16
r0 -= r2
exit
