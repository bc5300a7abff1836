; A per-CPU hash keeps one value per CPU; an update on CPU 1 sets CPU 1's copy
; and starts the others at zero.
; cpus: 3
; cpu: 1
; map: percpu_hash:4:8:4
; r0: 0
; entry: 0 07000000 = 0000000000000000,2a00000000000000,0000000000000000
*(u32 *)(r10 - 4) = 7
*(u64 *)(r10 - 16) = 42
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
exit
