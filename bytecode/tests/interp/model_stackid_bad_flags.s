; Unknown flag bits are -EINVAL.
; map: stack_trace:4:16:64
; r0: -22
r2 = map[0] ll
r3 = 0x800
call get_stackid
exit
