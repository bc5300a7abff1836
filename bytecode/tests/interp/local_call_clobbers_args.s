; After a call, r1-r5 are unknown again.
; trap: UninitializedRegister at 3
r1 = 1
r0 = 0
call pc+2
r0 = r1
exit
r0 = 0
exit
