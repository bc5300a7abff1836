; A scalar is not a map handle.
; map: hash:4:8:4
; trap: BadHelperArg { arg: 1, why: NotAMap } at 4
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
call map_lookup_elem
r0 = 0
exit
