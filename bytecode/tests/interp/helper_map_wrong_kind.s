; map_lookup_elem does not take a ring buffer.
; map: ringbuf:0:0:4096
; trap: BadHelperArg { arg: 1, why: WrongMapKind(RingBuf) } at 6
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
r1 = map[0] ll
call map_lookup_elem
r0 = 0
exit
