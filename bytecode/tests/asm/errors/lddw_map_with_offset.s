; expect: 3:13 unexpected
; message: expected `ll` (only map_value[..] and map_idx_value[..] take an offset), found `+`
r1 = map[3] + 8 ll
exit
