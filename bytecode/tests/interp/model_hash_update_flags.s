; map_update_elem flags: ANY inserts (0), NOEXIST on a present key is -EEXIST (-17),
; EXIST on an absent key is -ENOENT (-2), EXIST on a present key replaces (0),
; and unknown flags are -EINVAL (-22). r0 sums them: -41.
; map: hash:4:8:4
; r0: -41
; entry: 0 01000000 = 0900000000000000
*(u32 *)(r10 - 4) = 1
*(u64 *)(r10 - 16) = 5
r6 = 0
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
r3 = r10
r3 += -16
r4 = 1
call map_update_elem
r6 += r0
*(u32 *)(r10 - 8) = 2
r1 = map[0] ll
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 2
call map_update_elem
r6 += r0
*(u64 *)(r10 - 16) = 9
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
r4 = 3
call map_update_elem
r6 += r0
r0 = r6
exit
