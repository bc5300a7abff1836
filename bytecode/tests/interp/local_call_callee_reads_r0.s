; r0 is undefined at the start of a local function too: the caller's r0
; does not carry over.
; trap: UninitializedRegister at 4
r0 = 5
call pc+1
exit
r1 = 0
r0 += 1
exit
