; A jump past the end traps at the jump.
; trap: BadJumpTarget { target: 7 } at 1
r0 = 0
if r0 == 0 goto +5
exit
