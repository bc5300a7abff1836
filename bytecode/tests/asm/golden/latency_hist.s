; syscall:exit -- a log2 histogram of return values, in a per-CPU array.
;
;   map[0]: percpu_array, key u32 (bucket), value u64 (count), 64 entries
;
; Computes the bucket with a bounded loop (at most 64 rounds).

        r6 = *(u64 *)(r1 + 32)          ; ctx->ret
        if r6 s< 0 goto errors          ; negative: an error code
        r7 = 0                          ; bucket
        r8 = 64                         ; loop bound for the verifier
loop:
        r6 >>= 1
        if r6 == 0 goto found
        r7 += 1
        r8 += -1
        if r8 != 0 goto loop
found:
        *(u32 *)(r10 - 4) = w7
        goto lookup
errors:
        *(u32 *)(r10 - 4) = 63          ; one bucket for all errors
lookup:
        r1 = map[0] ll
        r2 = r10
        r2 += -4
        call 1                          ; map_lookup_elem, by number
        if r0 == 0 goto done
        r1 = *(u64 *)(r0 + 0)
        r1 += 1
        *(u64 *)(r0 + 0) = r1           ; per-CPU: no atomic needed
done:
        w0 = 0
        exit
