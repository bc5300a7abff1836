; The low byte of the flags skips innermost frames; skipping every frame is -EFAULT (-14).
; map: stack_trace:4:16:64
; r0: 3
; entry: 0 11000000 = 00201080ffffffff0000000000000000
r6 = r1
r2 = map[0] ll
r3 = 1
call get_stackid
r7 = r0
r1 = r6
r2 = map[0] ll
r3 = 2
call get_stackid
r0 += r7
exit
