; A lookup finds what an update stored; an absent key gives null.
; map: hash:8:8:4
; r0: 0x2a
*(u64 *)(r10 - 8) = 3
*(u64 *)(r10 - 16) = 42
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
*(u64 *)(r10 - 24) = 4
r1 = map[0] ll
r2 = r10
r2 += -24
call map_lookup_elem
if r0 != 0 goto +7
r1 = map[0] ll
r2 = r10
r2 += -8
call map_lookup_elem
if r0 == 0 goto +2
r0 = *(u64 *)(r0 + 0)
exit
r0 = -1
exit
