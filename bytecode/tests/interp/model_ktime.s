; The model clock is deterministic: starts at 1 s and advances 1 us per read.
; r0: 1000
call ktime_get_ns
r6 = r0
call ktime_get_ns
r0 -= r6
r6 -= 1000000000
r0 += r6
exit
