; r6-r9 hold the caller's values but the callee must write them before reading.
; trap: UninitializedRegister at 4
r6 = 1
r0 = 0
call pc+1
exit
r0 = r6
exit
