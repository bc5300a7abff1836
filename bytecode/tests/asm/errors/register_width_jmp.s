; expect: 3:9 register-width
; message: expected a 64-bit register (r0-r10), like the destination, found `w2`
if r1 > w2 goto +1
