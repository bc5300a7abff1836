; A pointer spilled to the stack and reloaded is still a pointer.
; trap: PointerLeak(ExitValue) at 2
*(u64 *)(r10 - 8) = r10
r0 = *(u64 *)(r10 - 8)
exit
