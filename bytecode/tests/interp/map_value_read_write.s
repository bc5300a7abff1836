; A looked-up array value is readable and writable for value_size bytes.
; map: array:4:8:4
; r0: 41
; entry: 0 01000000 = 2900000000000000
*(u32 *)(r10 - 4) = 1
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +4
r1 = 41
*(u64 *)(r0 + 0) = r1
r0 = *(u64 *)(r0 + 0)
exit
r0 = 99
exit
