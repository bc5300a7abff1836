; An access that starts inside the frame and ends past it traps.
; trap: OutOfBounds at 0
r0 = *(u64 *)(r10 - 4)
exit
