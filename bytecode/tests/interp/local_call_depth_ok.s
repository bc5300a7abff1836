; Three nested calls are fine with the default limit of 8 frames; each
; function passes r1 + 1 on, the innermost returns it.
; r0: 3
r1 = 0
call pc+1
exit
r1 += 1
call pc+1
exit
r1 += 1
call pc+1
exit
r0 = r1
r0 += 1
exit
