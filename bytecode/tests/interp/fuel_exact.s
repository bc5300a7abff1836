; Exactly as many instructions as fuel is fine.
; fuel: 3
; r0: 0
; steps: 3
r0 = 0
r0 += 0
exit
