; 32-bit cmpxchg compares only r0's low half; r0 gets the old value zero-extended.
; r0: 0x700000008
r1 = 7
*(u32 *)(r10 - 4) = r1
r0 = 0xabcdef0000000007 ll
w2 = 8
w0 = cmpxchg32_32(r10 - 4, w0, w2)
r3 = *(u32 *)(r10 - 4)
r0 <<= 32
r0 += r3
exit
