; An atomic that would put pointer bits in a map value.
; map: array:4:8:4
; trap: PointerLeak(MapValue) at 8
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +3
r1 = r10
lock *(u64 *)(r0 + 0) += r1
r0 = 0
exit
