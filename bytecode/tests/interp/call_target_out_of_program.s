; trap: BadJumpTarget at 1
r0 = 0
call pc+9
exit
