; Storing a pointer into a map value.
; map: array:4:8:4
; trap: PointerLeak(MapValue) at 7
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +2
*(u64 *)(r0 + 0) = r10
r0 = 0
exit
