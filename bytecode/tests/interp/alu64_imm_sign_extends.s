; Bitwise 64-bit operations sign-extend the immediate:
; 0 | -1 = all ones; all ones & 2147483647 = 0x7fffffff; 0x7fffffff ^ 0xffffffff80000000
; (the sign-extended -2147483648) = all ones.
; r0: 0xffffffffffffffff
r0 = 0
r0 |= -1
r0 &= 2147483647
r0 ^= -2147483648
exit
