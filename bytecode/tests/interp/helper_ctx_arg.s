; get_stackid's first argument must be the context pointer itself.
; map: stack_trace:4:16:8
; trap: BadHelperArg { arg: 1, why: NotContext } at 4
r1 += 8
r2 = map[0] ll
r3 = 0
call get_stackid
r0 = 0
exit
