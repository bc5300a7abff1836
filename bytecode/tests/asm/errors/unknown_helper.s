; expect: 3:6 unknown-helper
; message: unknown helper `no_such_helper`: expected a helper name (such as map_lookup_elem), a helper number, `pc+N`, `btf#N` or a label
call no_such_helper
