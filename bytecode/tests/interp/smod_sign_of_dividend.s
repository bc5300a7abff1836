; The signed remainder takes the dividend's sign: -7 s% 2 = -1, 7 s% -2 = 1.
; r0: 0
r0 = -7
r0 s%= 2
r1 = 7
r1 s%= -2
r0 += r1
exit
