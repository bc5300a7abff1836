; An atomic reads memory first, so it needs initialized bytes too.
; trap: UninitializedStackRead at 1
r1 = 1
lock *(u64 *)(r10 - 8) += r1
r0 = 0
exit
