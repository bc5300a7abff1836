; A helper reads only the registers its signature lists.
; r0: 1000000000
call ktime_get_ns
exit
