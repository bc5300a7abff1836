; expect: 3:1 unexpected
; message: expected an instruction or a label, found `42`
42
