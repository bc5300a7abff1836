; The same stack gets the same id; a user stack is another stack. Ids are the
; FNV-1a hash of the frames modulo max_entries (kernel: 13, user: 5).
; map: stack_trace:4:32:64
; r0: 0x0d0d05
; entry: 0 05000000 = 0010400000000000002040000000000000304000000000000000000000000000
; entry: 0 0d000000 = 00101080ffffffff00201080ffffffff00000000000000000000000000000000
r6 = r1
r2 = map[0] ll
r3 = 0
call get_stackid
r7 = r0
r1 = r6
r2 = map[0] ll
r3 = 0
call get_stackid
r7 <<= 8
r7 |= r0
r1 = r6
r2 = map[0] ll
r3 = 256
call get_stackid
r7 <<= 8
r7 |= r0
r0 = r7
exit
