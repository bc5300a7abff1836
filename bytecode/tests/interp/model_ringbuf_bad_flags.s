; Only the wakeup flags (1, 2) are allowed: flags 4 is -EINVAL, nothing stored.
; map: ringbuf:0:0:4096
; r0: -22
; drops: 0 0
*(u64 *)(r10 - 8) = 1
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = 8
r4 = 4
call ringbuf_output
exit
