; A 32-bit divisor whose low half is zero is zero, whatever its upper half.
; r0: 0
r0 = 100
r1 = 0x100000000 ll
w0 /= w1
exit
