; expect: 3:11 same-register
; message: expected `r1` (byte swaps work in place), found `r2`
r1 = be16 r2
