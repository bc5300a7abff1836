; A map value pointer is an address as well.
; map: array:4:8:4
; trap: PointerLeak(ExitValue) at 6
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
exit
