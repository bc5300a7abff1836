; The common counter idiom: look up, then atomically add.
; map: array:4:8:1
; r0: 0
; entry: 0 00000000 = 0300000000000000
*(u32 *)(r10 - 4) = 0
r6 = 3
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +2
r1 = 1
lock *(u64 *)(r0 + 0) += r1
r6 -= 1
if r6 != 0 goto -10
r0 = 0
exit
