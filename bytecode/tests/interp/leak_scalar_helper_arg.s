; A pointer as get_stackid's flags would leave the program.
; map: stack_trace:4:16:8
; trap: PointerLeak(HelperArg(3)) at 3
r2 = map[0] ll
r3 = r10
call get_stackid
r0 = 0
exit
