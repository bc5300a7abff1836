; expect: 3:7 bad-register
; message: `r12` is not a register: expected r0-r10 or w0-w10
r1 += r12
