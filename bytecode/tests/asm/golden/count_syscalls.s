; syscall:enter -- count calls per syscall number in a hash map.
;
;   map[0]: hash, key u64 (syscall number), value u64 (count)
;
; The key lives at r10 - 8, the initial value at r10 - 16.

        r6 = *(u64 *)(r1 + 24)          ; ctx->nr
        *(u64 *)(r10 - 8) = r6
        r1 = map[0] ll
        r2 = r10
        r2 += -8
        call map_lookup_elem
        if r0 == 0 goto insert          // first time we see this syscall
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        goto out
insert:
        *(u64 *)(r10 - 16) = 1
        r1 = map[0] ll
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 1                          ; NOEXIST: a racing insert wins
        call map_update_elem
out:
        r0 = 0
        exit
