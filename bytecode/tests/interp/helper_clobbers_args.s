; r1-r5 are unknown after a helper call.
; trap: UninitializedRegister at 2
r1 = 1
call ktime_get_ns
r0 = r1
exit
