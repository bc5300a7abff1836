# The C memory functions `core` and `alloc` call, and the unwinding symbols
# they reference (never used: every profile is `panic = "abort"`), for the
# kernel (kernel/src/lang.rs) and the workloads' runtime
# (kernel/user/rt/src/lang.rs), which include this file with
# `global_asm!(include_str!(...))`. Assembly, not Rust, so the compiler
# cannot turn a body back into a call to itself. Intel syntax.
    .section .text.memfns, "ax"
    .global memcpy
memcpy:
    mov rax, rdi
    mov rcx, rdx
    shr rcx, 3
    rep movsq
    mov rcx, rdx
    and rcx, 7
    rep movsb
    ret

    .global memset
memset:
    mov r9, rdi
    movzx eax, sil
    movabs r8, 0x0101010101010101
    imul rax, r8
    mov rcx, rdx
    shr rcx, 3
    rep stosq
    mov rcx, rdx
    and rcx, 7
    rep stosb
    mov rax, r9
    ret

    .global memmove
memmove:
    mov rax, rdi
    mov rcx, rdx
    cmp rdi, rsi
    jbe 1f
    lea rdx, [rsi + rcx]
    cmp rdi, rdx
    jae 1f
    lea rsi, [rsi + rcx - 1]
    lea rdi, [rdi + rcx - 1]
    std
    rep movsb
    cld
    ret
1:
    mov rdx, rcx
    jmp memcpy

    .global memcmp
    .global bcmp
memcmp:
bcmp:
    xor eax, eax
    test rdx, rdx
    jz 3f
2:
    movzx eax, byte ptr [rdi]
    movzx ecx, byte ptr [rsi]
    sub eax, ecx
    jnz 3f
    inc rdi
    inc rsi
    dec rdx
    jnz 2b
3:
    ret

    .global rust_eh_personality
rust_eh_personality:
    ret
    .global _Unwind_Resume
_Unwind_Resume:
    ud2
