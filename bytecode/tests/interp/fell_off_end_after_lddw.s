; Running off the end after an lddw reports the lddw.
; trap: FellOffEnd at 1
r0 = 0
r0 = 5 ll
