; expect: 3:6 out-of-range
; message: immediate 2147483648 is out of range: expected -2147483648 to 2147483647
r1 = 0x80000000
