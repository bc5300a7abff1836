; expect: 3:6 bad-number
; message: `0xzz` is not a number: expected decimal digits or 0x and hex digits
r1 = 0xzz
