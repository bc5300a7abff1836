; INT64_MIN / -1 overflows; eBPF defines the result as INT64_MIN.
; r0: 0x8000000000000000
r0 = 0x8000000000000000 ll
r0 s/= -1
exit
