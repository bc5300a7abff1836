; A full hash map refuses new keys with -E2BIG (-7) and counts a drop, but
; still replaces existing ones. Keys 0, 1 fit; key 2 does not; key 1 is then updated.
; map: hash:4:8:2
; r0: -7
; entry: 0 00000000 = 0000000000000000
; entry: 0 01000000 = 6300000000000000
; drops: 0 1
r6 = 0
r7 = 0
*(u32 *)(r10 - 4) = r6
*(u64 *)(r10 - 16) = r6
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r7 += r0
r6 += 1
if r6 < 3 goto -13
*(u32 *)(r10 - 4) = 1
*(u64 *)(r10 - 16) = 99
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r0 += r7
exit
