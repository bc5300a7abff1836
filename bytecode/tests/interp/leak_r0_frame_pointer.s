; Returning a stack address leaks it.
; trap: PointerLeak(ExitValue) at 1
r0 = r10
exit
