; expect: 3:7 same-register
; message: expected `r1` (negation works in place), found `r2`
r1 = -r2
