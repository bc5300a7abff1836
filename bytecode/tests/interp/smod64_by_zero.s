; Signed modulo by zero leaves the destination.
; r0: -9
r0 = -9
r0 s%= 0
exit
