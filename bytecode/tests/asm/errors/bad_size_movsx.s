; expect: 3:7 bad-size
; message: access type `u8` is not allowed here: expected s8, s16 or s32 (s8 or s16 for a 32-bit move)
r1 = (u8)r2
