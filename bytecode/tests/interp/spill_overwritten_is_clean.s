; Overwriting a spilled pointer with a number makes the slot a number again.
; r0: 5
*(u64 *)(r10 - 8) = r10
*(u64 *)(r10 - 8) = 5
r0 = *(u64 *)(r10 - 8)
exit
