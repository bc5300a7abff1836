; expect: 3:21 out-of-range
; message: immediate 4294967295 is out of range: expected -2147483648 to 2147483647
*(u64 *)(r10 - 8) = 0xffffffff
