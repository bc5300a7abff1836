; A read outside every range zero-fills the destination and returns -EFAULT (-14).
; user-mem: 0x1000 0102030405060708
; r0: -14
*(u64 *)(r10 - 8) = -1
r1 = r10
r1 += -8
r2 = 8
r3 = 0x1001
call probe_read_user
r1 = *(u64 *)(r10 - 8)
r0 += r1
exit
