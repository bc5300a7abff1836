//! The PVH entry: from QEMU's 32-bit protected mode into 64-bit Rust.
//!
//! QEMU's `-kernel` loads this ELF directly and, finding the Xen
//! `PHYS32_ENTRY` note, jumps to `pvh_start` in 32-bit protected mode with
//! paging off and `ebx` pointing at the `hvm_start_info` structure. The
//! trampoline zeroes `.bss`, builds temporary page tables (the first GiB
//! identity-mapped, at the direct map and at the kernel's link address),
//! enables PAE, long mode, NX, `syscall` and SSE (the prebuilt `core` uses
//! SSE, so it must be on before any Rust runs), and jumps to [`kentry`] on
//! the kernel stack. `mm::paging` replaces these tables with the real ones.
//!
//! The stacks live here too, each with a guard page below it that the real
//! page tables leave unmapped.

use core::arch::global_asm;

/// Size of the kernel stack. Big enough for Cranelift in a debug build
/// (about 240 KiB measured) plus probes and the kernel itself.
pub const KSTACK_SIZE: usize = 1 << 20;
/// Size of each interrupt stack (IST). Interrupts from user mode and the
/// idle loop leave them at once for the kernel stack.
pub const IST_SIZE: usize = 32 << 10;

global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .p2align 2
    .long pvh_start
    .p2align 2
    .popsection

    .pushsection .boot.data, "aw", @progbits
    .p2align 12
boot_pml4:      .zero 4096
boot_pdpt_low:  .zero 4096
boot_pdpt_high: .zero 4096
boot_pd:        .zero 4096
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .popsection

    .pushsection .boot.text, "ax", @progbits
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    mov esi, ebx
    mov edi, offset __bss_phys_start
    mov ecx, offset __bss_phys_end
    sub ecx, edi
    xor eax, eax
    rep stosb

    mov edi, offset boot_pd
    mov eax, 0x83
    mov ecx, 512
boot_fill_pd:
    mov dword ptr [edi], eax
    mov dword ptr [edi + 4], 0
    add eax, 0x200000
    add edi, 8
    dec ecx
    jnz boot_fill_pd

    mov eax, offset boot_pd
    or eax, 3
    mov dword ptr [boot_pdpt_low], eax
    mov dword ptr [boot_pdpt_high + 510 * 8], eax
    mov eax, offset boot_pdpt_low
    or eax, 3
    mov dword ptr [boot_pml4], eax
    mov dword ptr [boot_pml4 + 256 * 8], eax
    mov eax, offset boot_pdpt_high
    or eax, 3
    mov dword ptr [boot_pml4 + 511 * 8], eax
    mov eax, offset boot_pml4
    mov cr3, eax

    mov eax, cr4
    or eax, (1 << 5) | (1 << 9) | (1 << 10)
    mov cr4, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, (1 << 0) | (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    and eax, ~((1 << 2) | (1 << 3))
    or eax, (1 << 31) | (1 << 16) | (1 << 5) | (1 << 1) | 1
    mov cr0, eax

    lgdt [boot_gdt_ptr]
    mov eax, offset boot_long_mode
    push 0x08
    push eax
    retf

    .code64
boot_long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, offset kstack_top
    xor ebp, ebp
    mov edi, esi
    mov rax, offset {kentry}
    call rax
    ud2
    .popsection

    .pushsection .bss.stacks, "aw", @nobits
    .p2align 12
    .global kstack_guard, kstack_bottom, kstack_top
kstack_guard:   .skip 4096
kstack_bottom:  .skip {kstack}
kstack_top:
    .global ist_guards
ist_guards:
    .skip ({ist} + 4096) * 4
ist_end:
    .popsection
    "#,
    kentry = sym crate::kentry,
    kstack = const KSTACK_SIZE,
    ist = const IST_SIZE,
);

unsafe extern "C" {
    static kstack_guard: u8;
    static kstack_bottom: u8;
    static kstack_top: u8;
    static ist_guards: u8;
}

/// A stack: `[bottom, top)`, with an unmapped guard page at `bottom - 4096`.
#[derive(Clone, Copy, Debug)]
pub struct StackRange {
    /// Lowest usable address.
    pub bottom: u64,
    /// One past the highest usable address (the initial `rsp`).
    pub top: u64,
}

impl StackRange {
    /// The guard page's address.
    pub fn guard(&self) -> u64 {
        self.bottom - 4096
    }

    /// True if `[addr, addr + len)` lies inside the stack.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.bottom && addr.checked_add(len).is_some_and(|e| e <= self.top)
    }
}

/// The kernel stack (one per CPU: the kernel is not preemptible, so a
/// thread blocked in the kernel keeps no kernel stack).
pub fn kernel_stack() -> StackRange {
    // Taking an extern static's address reads nothing, so needs no unsafe.
    let _ = &raw const kstack_guard;
    StackRange {
        bottom: &raw const kstack_bottom as u64,
        top: &raw const kstack_top as u64,
    }
}

/// Interrupt stack `n` (0..4), for IST entry `n + 1`.
pub fn ist_stack(n: usize) -> StackRange {
    assert!(n < 4);
    let base = &raw const ist_guards as u64 + (n * (IST_SIZE + 4096)) as u64;
    StackRange {
        bottom: base + 4096,
        top: base + 4096 + IST_SIZE as u64,
    }
}
