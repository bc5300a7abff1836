; A map index the environment does not have traps.
; trap: UnknownMap at 0
r1 = map[3] ll
r0 = 0
exit
