; ringbuf_output appends a record of exactly the bytes given.
; map: ringbuf:0:0:4096
; r0: 0
; record: 0 0102030405
; record: 0 aabb
*(u32 *)(r10 - 8) = 0x04030201
*(u8 *)(r10 - 4) = 5
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = 5
r4 = 0
call ringbuf_output
r6 = r0
*(u16 *)(r10 - 8) = 0xbbaa
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = 2
r4 = 0
call ringbuf_output
r0 += r6
exit
