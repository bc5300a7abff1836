; Kernel reads use their own ranges: the user range is not kernel memory.
; user-mem: 0x1000 01020304
; kernel-mem: 0xffff800000000000 aabbccdd
; r0: -14
r1 = r10
r1 += -4
r2 = 4
r3 = 0xffff800000000000 ll
call probe_read_kernel
r6 = *(u32 *)(r10 - 4)
r1 = r10
r1 += -4
r2 = 4
r3 = 0x1000
call probe_read_kernel
r1 = 0xddccbbaa ll
r6 -= r1
r0 += r6
exit
