; BEGIN -- a bpf-to-bpf call and the RFC 9669 v4 arithmetic.
;
; main passes a value to `scale`, a local function that sign-extends,
; divides with a sign and swaps bytes; main then counts into map 0's
; value 0 through a direct value pointer.

main:
        r1 = 0xfffffffffffffff0 ll      ; -16
        call scale
        r6 = r0
        r1 = map_value[0] + 8 ll        ; &value[0] + 8
        r2 = 1
        r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
        w0 = w6
        w0 s%= 7
        exit

scale:
        r2 = (s8)r1
        r2 s/= -3
        w3 = (s16)w1
        w3 s>>= 1
        r2 += r3
        r2 = bswap64 r2
        r0 = r2
        r0 = -r0
        if w0 s>= 0 goto +1
        gotol +0
        exit
