; A key that runs past the top of the frame.
; map: hash:8:8:4
; trap: BadHelperArg { arg: 2, why: OutOfBounds at 6
r1 = 0
*(u32 *)(r10 - 4) = r1
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
r0 = 0
exit
