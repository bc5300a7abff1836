; Helper arguments are register reads: r2 unwritten.
; trap: UninitializedRegister at 2
r1 = r10
r1 += -16
call get_current_comm
r0 = 0
exit
