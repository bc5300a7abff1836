; expect: 3:6 unexpected
; message: expected the end of the line, found `now`
exit now
