; One byte past an 8-byte value is out of bounds.
; map: array:4:8:4
; trap: OutOfBounds at 7
*(u32 *)(r10 - 4) = 0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +2
r0 = *(u8 *)(r0 + 8)
exit
r0 = 0
exit
