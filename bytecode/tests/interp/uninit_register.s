; r2 is not written at entry.
; trap: UninitializedRegister at 0
r0 = r2
exit
