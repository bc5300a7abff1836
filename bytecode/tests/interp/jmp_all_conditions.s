; Each condition taken exactly when it should be, counted into r0 as bits.
; r0: 0x7ff
r1 = 5
r2 = -3
r0 = 0
if r1 == 5 goto +1
goto +1
r0 |= 1
if r1 != 4 goto +1
goto +1
r0 |= 2
if r1 > 4 goto +1
goto +1
r0 |= 4
if r1 >= 5 goto +1
goto +1
r0 |= 8
if r1 < 6 goto +1
goto +1
r0 |= 16
if r1 <= 5 goto +1
goto +1
r0 |= 32
if r2 s< r1 goto +1
goto +1
r0 |= 64
if r2 s<= -3 goto +1
goto +1
r0 |= 128
if r1 s> r2 goto +1
goto +1
r0 |= 256
if r1 s>= 5 goto +1
goto +1
r0 |= 512
if r1 & 4 goto +1
goto +1
r0 |= 1024
exit
