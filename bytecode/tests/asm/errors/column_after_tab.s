; expect: 5:11 out-of-range
; message: immediate 34359738353 is out of range: expected -2147483648 to 2147483647
; a tab counts as one column
	r0 = *(u64 *)(r1 + 8)
	if r0 s> 0x7fffffff1 goto +1
