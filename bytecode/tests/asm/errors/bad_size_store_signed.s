; expect: 3:3 bad-size
; message: access type `s32` is not allowed here: expected u8, u16, u32 or u64 (stores do not sign-extend)
*(s32 *)(r10 - 4) = 1
