; expect: 4:6 unknown-label
; message: unknown label `nowhere`: no line defines `nowhere:`
r0 = 0
goto nowhere
exit
