; exit reads r0.
; trap: UninitializedRegister at 0
exit
