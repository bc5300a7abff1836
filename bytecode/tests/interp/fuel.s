; An endless loop runs out of fuel.
; fuel: 100
; trap: FuelExhausted at 1
r0 = 0
goto -1
exit
