; expect: 3:8 bad-size
; message: access type `s64` is not allowed here: expected u8, u16, u32, u64, s8, s16 or s32
r0 = *(s64 *)(r1 + 0)
