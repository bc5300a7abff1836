; Deleting a present key gives 0 and frees room; an absent key gives -ENOENT (-2).
; map: hash:4:8:1
; r0: -2
; entry: 0 02000000 = 0200000000000000
*(u32 *)(r10 - 4) = 1
*(u64 *)(r10 - 16) = 1
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r1 = map[0] ll
r2 = r10
r2 += -4
call map_delete_elem
r6 = r0
r1 = map[0] ll
r2 = r10
r2 += -4
call map_delete_elem
r6 += r0
*(u32 *)(r10 - 4) = 2
*(u64 *)(r10 - 16) = 2
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r0 += r6
exit
