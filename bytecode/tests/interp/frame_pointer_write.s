; r10 is read-only.
; trap: FramePointerWrite at 0
r10 = 0
r0 = 0
exit
