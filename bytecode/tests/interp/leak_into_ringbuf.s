; A ring-buffer record holding the context address.
; map: ringbuf:0:0:4096
; trap: PointerLeak(HelperMemory(2)) at 7
*(u64 *)(r10 - 8) = r1
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = 8
r4 = 0
call ringbuf_output
r0 = 0
exit
