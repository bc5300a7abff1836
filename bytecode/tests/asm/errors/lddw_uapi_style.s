; expect: 3:1 unknown-mnemonic
; message: unknown instruction `lddw`: expected an assignment to a register (`r1 = 2`, `r1 += r2`, `r0 = *(u64 *)(r1 + 8)`), a store (`*(u64 *)(r10 - 8) = r1`), `lock`, `if`, `goto`, `gotol`, `call` or `exit`
lddw r1, 5
