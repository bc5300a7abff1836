; A frame limit beyond interp::MAX_FRAMES (128) is clamped to it: unbounded
; recursion still stops after 127 nested calls (129 instructions), well
; within the fuel, instead of allocating frames until the fuel runs out.
; frames: 100000
; fuel: 200
; trap: CallDepth at 1
r0 = 0
call pc-1
exit
