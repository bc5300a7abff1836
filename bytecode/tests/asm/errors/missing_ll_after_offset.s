; expect: 3:22 unexpected
; message: expected `ll` (lddw sources end in `ll`), found the end of the line
r1 = map_value[3] + 8
