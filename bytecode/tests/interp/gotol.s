; The long jump (JMP32 | JA) takes its offset from the immediate.
; r0: 3
r0 = 1
gotol +1
r0 = 2
r0 += 2
exit
