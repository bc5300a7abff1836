; A failed lookup returns 0, a plain number.
; map: hash:4:8:4
; r0: 0
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
exit
