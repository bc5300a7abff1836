; expect: 3:7 out-of-range
; message: immediate 4294967296 is out of range: expected -2147483648 to 4294967295
w1 += 0x100000000
