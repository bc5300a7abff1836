; expect: 3:7 out-of-range
; message: jump offset -2147483649 is out of range: expected -2147483648 to 2147483647
gotol -2147483649
