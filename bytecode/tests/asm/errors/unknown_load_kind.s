; expect: 3:6 unknown-load-kind
; message: unknown lddw source `mapp`: expected map, map_value, var_addr, code_addr, map_idx or map_idx_value
r1 = mapp[3] ll
