; A local call: the callee gets r1 and its own frame and returns r0; the
; caller's r6 and stack slot survive the callee overwriting its own.
; r0: 0x2a000707
r6 = 7
*(u64 *)(r10 - 8) = r6
r1 = 21
call pc+6
r1 = *(u64 *)(r10 - 8)
r0 <<= 16
r0 += r6
r0 <<= 8
r0 += r1
exit
; The callee overwrites its own stack slot and r6, and returns r1 * 2.
r6 = 1000
*(u64 *)(r10 - 8) = r6
r0 = r1
r0 *= 2
exit
