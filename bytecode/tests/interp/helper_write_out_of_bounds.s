; 16 bytes at r10 - 8 run past the frame.
; trap: BadHelperArg { arg: 1, why: OutOfBounds at 3
r1 = r10
r1 += -8
r2 = 16
call get_current_comm
r0 = 0
exit
