; Atomics on the context are writes too.
; trap: ContextWrite at 1
r2 = 1
lock *(u64 *)(r1 + 0) += r2
r0 = 0
exit
