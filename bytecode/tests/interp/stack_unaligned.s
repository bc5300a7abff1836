; eBPF does not require alignment; the interpreter reads unaligned.
; r0: 0x0706050403020100
r1 = 0x0807060504030201 ll
*(u64 *)(r10 - 9) = r1
*(u8 *)(r10 - 10) = 0
r0 = *(u64 *)(r10 - 10)
exit
