; expect: 3:12 unexpected
; message: expected `goto`, found `+`
if r1 > r2 +1
