; expect: 3:8 unexpected
; message: expected a register, number, name or operator, found `@`
r1 = 5 @
