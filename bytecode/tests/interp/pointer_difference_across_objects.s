; The distance between the stack and the context reveals layout.
; trap: PointerLeak(ExitValue) at 2
r0 = r10
r0 -= r1
exit
