; The callee's frame starts unwritten, even where the caller wrote its own.
; trap: UninitializedStackRead at 4
r6 = 7
*(u64 *)(r10 - 8) = r6
call pc+1
exit
r0 = *(u64 *)(r10 - 8)
exit
