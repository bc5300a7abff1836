; A key may live in the context: it is readable and pointer-free.
; map: array:4:8:4
; ctx: 02 00 00 00
; r0: 1
r2 = r1
r1 = map[0] ll
call map_lookup_elem
if r0 == 0 goto +1
r0 = 1
exit
