; An ALU operation reads its destination (except a move).
; trap: UninitializedRegister at 0
r3 += 1
r0 = 0
exit
