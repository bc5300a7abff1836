; expect: 3:1 bad-register
; message: `r01` is not a register: expected r0-r10 or w0-w10
r01 = 1
