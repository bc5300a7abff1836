; A 64-bit unsigned division's immediate is sign-extended, then read as u64:
; -1 / -1 = 1 and 10 / -1 = 0 (10 / 0xffff_ffff_ffff_ffff).
; r0: 1
r0 = -1
r0 /= -1
r1 = 10
r1 /= -1
r0 += r1
exit
