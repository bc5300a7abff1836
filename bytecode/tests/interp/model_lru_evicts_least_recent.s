; An LRU hash of 2: insert 1 and 2, use 1, insert 3: 2 is evicted, not 1.
; map: lru_hash:4:8:2
; r0: 0
; entry: 0 01000000 = 0100000000000000
; entry: 0 03000000 = 0300000000000000
; drops: 0 0
r6 = 1
*(u32 *)(r10 - 4) = r6
*(u64 *)(r10 - 16) = r6
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r6 += 1
if r6 < 3 goto -12
*(u32 *)(r10 - 4) = 1
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
*(u32 *)(r10 - 4) = 3
*(u64 *)(r10 - 16) = 3
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
exit
