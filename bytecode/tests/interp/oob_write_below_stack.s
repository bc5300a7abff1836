; 520 bytes below r10 is below the 512-byte frame.
; trap: OutOfBounds at 1
r1 = 0
*(u64 *)(r10 - 520) = r1
r0 = 0
exit
