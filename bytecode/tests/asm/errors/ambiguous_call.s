; expect: 5:6 ambiguous-call
; message: `call ktime_get_ns` is ambiguous: `ktime_get_ns` is both a helper and a label; rename the label
r0 = 0
ktime_get_ns:
call ktime_get_ns
exit
