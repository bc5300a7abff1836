; expect: 3:20 unexpected
; message: expected an offset, found `-`
r0 = *(u64 *)(r1 - -8)
