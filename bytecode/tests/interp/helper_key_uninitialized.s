; The key must be written before a helper reads it.
; map: hash:8:8:4
; trap: BadHelperArg { arg: 2, why: Uninitialized } at 4
r1 = map[0] ll
r2 = r10
r2 += -8
call map_lookup_elem
r0 = 0
exit
