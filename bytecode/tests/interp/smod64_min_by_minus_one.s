; INT64_MIN % -1 is 0.
; r0: 0
r0 = 0x8000000000000000 ll
r1 = -1
r0 s%= r1
exit
