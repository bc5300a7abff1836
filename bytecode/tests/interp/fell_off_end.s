; A program must end with exit.
; trap: FellOffEnd at 1
r0 = 0
r0 += 1
