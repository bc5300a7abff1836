; Unbounded recursion stops at the frame limit (8 frames: 7 nested calls).
; trap: CallDepth at 1
r0 = 0
call pc-1
exit
