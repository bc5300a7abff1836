; expect: 3:18 out-of-range
; message: offset -32769 is out of range: expected -32768 to 32767
r0 = *(u64 *)(r1 - 32769)
