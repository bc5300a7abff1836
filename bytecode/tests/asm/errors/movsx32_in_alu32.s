; expect: 3:7 unsupported
; message: a 32-bit sign-extending move from 32 bits does not exist: write `wD = wS`
w1 = (s32)w2
