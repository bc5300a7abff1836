; So does returning the context address...
; trap: PointerLeak(ExitValue) at 1
r0 = r1
exit
