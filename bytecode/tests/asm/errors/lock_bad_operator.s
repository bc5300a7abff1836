; expect: 3:23 unexpected
; message: expected `+=`, `|=`, `&=` or `^=`, found `-=`
lock *(u64 *)(r1 + 0) -= r2
