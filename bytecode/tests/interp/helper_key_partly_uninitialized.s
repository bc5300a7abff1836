; All key_size bytes must be written: 4 of 8 is not enough.
; map: hash:8:8:4
; trap: BadHelperArg { arg: 2, why: Uninitialized } at 6
r1 = 0
*(u32 *)(r10 - 8) = r1
r1 = map[0] ll
r2 = r10
r2 += -8
call map_lookup_elem
r0 = 0
exit
