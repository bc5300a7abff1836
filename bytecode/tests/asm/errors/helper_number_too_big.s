; expect: 3:6 out-of-range
; message: helper number 4294967296 is out of range: expected 0 to 4294967295
call 4294967296
