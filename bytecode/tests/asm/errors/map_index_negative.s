; expect: 3:10 out-of-range
; message: index -1 is out of range: expected 0 to 4294967295
r1 = map[-1] ll
