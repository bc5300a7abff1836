; map_update_elem reads value_size bytes of value.
; map: hash:4:8:4
; trap: BadHelperArg { arg: 3, why: Uninitialized } at 10
r1 = 0
*(u32 *)(r10 - 4) = r1
*(u32 *)(r10 - 16) = r1
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r0 = 0
exit
