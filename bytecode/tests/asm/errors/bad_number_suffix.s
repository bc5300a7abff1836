; expect: 3:6 bad-number
; message: `12abc` is not a number: expected decimal digits or 0x and hex digits
r1 = 12abc
