; 32-bit atomics act on 4 bytes only: the neighbouring word is untouched.
; r0: 0x1100000000
r1 = 0x11ffffffff ll
*(u64 *)(r10 - 8) = r1
w2 = 1
lock *(u32 *)(r10 - 8) += w2
r0 = *(u64 *)(r10 - 8)
exit
