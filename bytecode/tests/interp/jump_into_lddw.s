; The second half of an lddw is not an instruction.
; trap: BadJumpTarget { target: 2 } at 0
goto +1
r0 = 5 ll
exit
