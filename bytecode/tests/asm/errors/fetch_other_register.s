; expect: 3:40 same-register
; message: expected `r3` (the old value is written back to the source register), found `r2`
r3 = atomic_fetch_add((u64 *)(r1 + 0), r2)
