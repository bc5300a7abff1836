; 504-byte records take 512 bytes with their header: 8 fit in 4096, the 9th is
; dropped with -ENOSPC and counted. r0 counts failures.
; map: ringbuf:0:0:4096
; r0: 1
; drops: 0 1
r6 = r10
r6 += -504
*(u64 *)(r6 + 0) = 0
r6 += 8
if r6 != r10 goto -3
r6 = 9
r7 = 0
r1 = map[0] ll
r2 = r10
r2 += -504
r3 = 504
r4 = 0
call ringbuf_output
if r0 == 0 goto +1
r7 += 1
r6 -= 1
if r6 != 0 goto -12
r0 = r7
exit
