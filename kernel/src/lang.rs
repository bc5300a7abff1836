//! What the prebuilt `core` and `alloc` expect from a freestanding binary:
//! the C memory functions, the unwinding symbols (never used: every profile
//! is `panic = "abort"`) and the panic handler.
//!
//! The memory functions are written in assembly, not Rust, so the compiler
//! cannot turn their bodies back into calls to themselves.

use core::arch::global_asm;

global_asm!(
    r#"
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
    "#
);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::arch::report::panic(info)
}

/// Boot check of the memory functions above on the cases that matter
/// (overlap in both directions, disjoint ranges, odd lengths), since a
/// bug here would corrupt everything silently.
pub fn self_test() {
    use core::hint::black_box;
    let fresh = || core::array::from_fn::<u8, 64, _>(|i| i as u8);
    let n = black_box(21usize);
    let mut b = fresh();
    // SAFETY: source and destination lie within the 64-byte local buffer.
    unsafe { core::ptr::copy(b.as_ptr(), b.as_mut_ptr().add(5), n) };
    assert!(
        (0..n).all(|i| b[5 + i] == i as u8),
        "memmove, overlapping upwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::copy(b.as_ptr().add(5), b.as_mut_ptr(), n) };
    assert!(
        (0..n).all(|i| b[i] == (i + 5) as u8),
        "memmove, overlapping downwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::copy(b.as_ptr(), b.as_mut_ptr().add(40), n) };
    assert!(
        (0..n).all(|i| b[40 + i] == i as u8),
        "memmove, disjoint upwards"
    );
    let mut b = fresh();
    // SAFETY: as above, within the 64-byte buffer.
    unsafe { core::ptr::write_bytes(b.as_mut_ptr().add(3), 0xa5, n) };
    assert!(
        b[2] == 2 && b[3..3 + n].iter().all(|&x| x == 0xa5) && b[3 + n] == (3 + n) as u8,
        "memset"
    );
}
