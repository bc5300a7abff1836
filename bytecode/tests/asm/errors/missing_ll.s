; expect: 3:12 unexpected
; message: expected `ll` (lddw sources end in `ll`), found the end of the line
r1 = map[3]
