; Arrays: every index below max_entries exists (zeroed); updates past the end are
; -E2BIG (-7), NOEXIST is -EEXIST (-17), deletes are -EINVAL (-22); lookups past
; the end give null. r0 sums the errors: -46, plus 1 for the null lookup.
; map: array:4:8:2
; r0: -45
; entry: 0 01000000 = 0500000000000000
r6 = 0
*(u32 *)(r10 - 4) = 1
*(u64 *)(r10 - 16) = 5
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 2
call map_update_elem
r6 += r0
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 1
call map_update_elem
r6 += r0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_delete_elem
r6 += r0
*(u32 *)(r10 - 4) = 2
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r6 += r0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 != 0 goto +1
r6 += 1
r0 = r6
exit
