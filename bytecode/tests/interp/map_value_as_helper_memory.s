; A map value can be a helper's destination (get_current_comm writes it).
; map: array:4:16:1
; r0: 0
; entry: 0 00000000 = 696e6974000000000000000000000000
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +4
r1 = r0
r2 = 16
call get_current_comm
r0 = 0
exit
