; expect: 3:6 unexpected
; message: expected a jump offset (`+3`, `-2`) or a label, found `3`
goto 3
