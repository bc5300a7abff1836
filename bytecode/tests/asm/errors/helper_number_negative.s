; expect: 3:6 unexpected
; message: expected a helper name or number, `pc+N`, `btf#N` or a label, found `-`
call -1
