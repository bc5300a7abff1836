; Three nested calls are fine with the default limit of 8 frames.
; r0: 3
r0 = 0
call pc+1
exit
r0 += 1
call pc+1
exit
r0 += 1
call pc+1
exit
r0 += 1
exit
