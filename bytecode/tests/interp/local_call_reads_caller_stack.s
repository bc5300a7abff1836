; A callee may read the caller's frame through a pointer argument.
; r0: 99
r6 = 99
*(u64 *)(r10 - 8) = r6
r1 = r10
r1 += -8
call pc+1
exit
r0 = *(u64 *)(r1 + 0)
exit
