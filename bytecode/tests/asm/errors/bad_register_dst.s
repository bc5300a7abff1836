; expect: 3:1 bad-register
; message: `r11` is not a register: expected r0-r10 or w0-w10
r11 = 1
