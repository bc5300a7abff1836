; expect: 3:7 unexpected
; message: expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found `=`
if r1 =< r2 goto +1
