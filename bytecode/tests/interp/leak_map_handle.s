; A map handle is a kernel address too.
; map: hash:4:8:4
; trap: PointerLeak(ExitValue) at 2
r0 = map[0] ll
exit
