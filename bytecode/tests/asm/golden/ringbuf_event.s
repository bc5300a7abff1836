; fault:page -- send one record per page fault to a ring buffer.
;
;   map[1]: ringbuf
;
; The record, 32 bytes at r10 - 32:
;   +0  u64  timestamp     +8  u64  pid_tgid
;   +16 u64  address       +24 u32  access, u32 outcome (big-endian)

        r6 = r1                         ; keep ctx across calls
        call ktime_get_ns
        *(u64 *)(r10 - 32) = r0
        call get_current_pid_tgid
        *(u64 *)(r10 - 24) = r0
        r1 = *(u64 *)(r6 + 24)          ; ctx->addr
        r1 &= -4096                     ; page-align
        *(u64 *)(r10 - 16) = r1
        r1 = *(u32 *)(r6 + 40)          ; ctx->access
        r1 = be32 r1
        *(u32 *)(r10 - 8) = r1
        r1 = *(u32 *)(r6 + 44)          ; ctx->outcome
        r1 = be32 r1
        *(u32 *)(r10 - 4) = r1
        r1 = map[1] ll
        r2 = r10
        r2 += -32
        r3 = 32
        r4 = 0
        call ringbuf_output
        r0 = 0
        exit
