; A key may be read from a map value.
; map: array:4:4:4
; map: hash:4:8:4
; r0: 0
; entry: 1 00000000 = 0700000000000000
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +9
r2 = r0
r1 = 7
*(u64 *)(r10 - 16) = r1
r1 = map[1] ll
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r0 = 0
exit
