; ...or anything computed from an address.
; trap: PointerLeak(ExitValue) at 3
r0 = r10
r0 &= 4095
r0 >>= 3
exit
