; Helpers may not write the context.
; trap: BadHelperArg { arg: 1, why: NotWritable } at 2
r2 = 8
r3 = 0
call get_current_comm
r0 = 0
exit
