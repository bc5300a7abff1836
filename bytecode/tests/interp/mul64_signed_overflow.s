; INT64_MAX * 2 wraps to -2.
; r0: -2
r0 = 0x7fffffffffffffff ll
r0 *= 2
exit
