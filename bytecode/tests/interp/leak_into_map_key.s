; A key holding a pointer would store the address in the map.
; map: hash:8:8:4
; trap: PointerLeak(HelperMemory(2)) at 5
*(u64 *)(r10 - 8) = r10
r1 = map[0] ll
r2 = r10
r2 += -8
call map_lookup_elem
r0 = 0
exit
