; expect: 5:3 duplicate-label
; message: label `out` is already defined on line 3
out:
r0 = 0
  out:
exit
