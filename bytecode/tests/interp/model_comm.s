; get_current_comm copies at most size - 1 name bytes and NUL-pads: "ini\0" with
; size 4, "init" and 12 NULs with size 16.
; r0: 0x00696e69
*(u64 *)(r10 - 8) = -1
r1 = r10
r1 += -8
r2 = 4
call get_current_comm
r0 = *(u32 *)(r10 - 8)
exit
