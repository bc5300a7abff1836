; A pointer as a size is a leak too.
; trap: PointerLeak(HelperArg(2)) at 3
r1 = r10
r1 += -16
r2 = r10
call get_current_comm
r0 = 0
exit
