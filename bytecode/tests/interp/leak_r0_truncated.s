; A 32-bit move of a pointer still carries its low half.
; trap: PointerLeak(ExitValue) at 1
w0 = w10
exit
