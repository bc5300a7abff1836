; r10 is one past the frame: reading at r10 is out of bounds.
; trap: OutOfBounds at 0
r0 = *(u64 *)(r10 + 0)
exit
