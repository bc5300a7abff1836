; trap: BadJumpTarget at 1
r0 = 0
goto -3
exit
