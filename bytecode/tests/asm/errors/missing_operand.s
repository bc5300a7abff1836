; expect: 3:6 unexpected
; message: expected a register or a number, found the end of the line
r1 +=
