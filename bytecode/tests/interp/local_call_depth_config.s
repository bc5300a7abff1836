; With a limit of 2 frames, one call is fine and a nested one traps.
; frames: 2
; trap: CallDepth at 5
r0 = 0
call pc+1
exit
r0 = 1
r0 += 1
call pc+1
exit
exit
