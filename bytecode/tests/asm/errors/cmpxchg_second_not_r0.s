; expect: 3:25 same-register
; message: expected `r0` (cmpxchg compares with r0 and returns the old value in r0), found `r3`
r0 = cmpxchg_64(r1 + 0, r3, r2)
