; lddw sources other than constants and map indices are not supported.
; map: array:4:8:4
; trap: UnsupportedLoadImm(MapValue) at 0
r1 = map_value[0] ll
r0 = 0
exit
