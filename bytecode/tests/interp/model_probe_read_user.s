; probe_read_user copies from the configured user memory.
; user-mem: 0x1000 0102030405060708
; r0: 0x0706050403
r1 = r10
r1 += -8
r2 = 5
r3 = 0x1002
call probe_read_user
r6 = r0
r0 = *(u32 *)(r10 - 8)
r1 = *(u8 *)(r10 - 4)
r1 <<= 32
r0 |= r1
r0 += r6
exit
