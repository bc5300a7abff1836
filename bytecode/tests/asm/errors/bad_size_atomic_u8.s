; expect: 3:8 bad-size
; message: access type `u8` is not allowed here: expected u32 or u64 (atomics work on 4 or 8 bytes)
lock *(u8 *)(r1 + 0) += r2
