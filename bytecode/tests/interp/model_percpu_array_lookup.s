; A per-CPU array lookup returns the current CPU's copy.
; cpus: 4
; cpu: 2
; map: percpu_array:4:4:2
; r0: 0
; entry: 0 01000000 = 00000000,00000000,0b000000,00000000
*(u32 *)(r10 - 4) = 1
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +2
r1 = 11
*(u32 *)(r0 + 0) = r1
r0 = 0
exit
