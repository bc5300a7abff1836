; Memory arguments need at least one byte.
; trap: BadHelperArg { arg: 2, why: ZeroSize } at 3
r1 = r10
r1 += -16
r2 = 0
call get_current_comm
r0 = 0
exit
