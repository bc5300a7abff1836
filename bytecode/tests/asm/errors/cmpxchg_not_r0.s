; expect: 3:1 same-register
; message: expected `r0` (cmpxchg compares with r0 and returns the old value in r0), found `r1`
r1 = cmpxchg_64(r1 + 0, r0, r2)
