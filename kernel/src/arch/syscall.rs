//! `syscall` entry and MSR setup.
//!
//! The entry builds the same [`TrapFrame`](super::trap::TrapFrame) an
//! interrupt would (vector [`SYSCALL_VECTOR`](super::trap::SYSCALL_VECTOR),
//! user `rip` from `rcx`, `rflags` from `r11`), saves the FPU state, and
//! calls `syscall_from_user` on the kernel stack. `SFMASK` clears IF, so
//! the whole kernel path runs with interrupts off. XMM registers are
//! caller-saved in the syscall ABI (the user wrappers say so), but they are
//! still saved and restored, because a thread that blocks may be switched
//! out and the kernel's own code uses SSE.

use core::arch::global_asm;

use super::cpu::wrmsr;
use super::gdt::{KERNEL_CS, USER_DS};

const EFER: u32 = 0xc000_0080;
const STAR: u32 = 0xc000_0081;
const LSTAR: u32 = 0xc000_0082;
const SFMASK: u32 = 0xc000_0084;

/// RFLAGS bits cleared on `syscall`: IF, TF, DF, NT, AC.
const SFMASK_BITS: u64 = (1 << 9) | (1 << 8) | (1 << 10) | (1 << 14) | (1 << 18);

global_asm!(
    r#"
    .section .text.syscall, "ax"
    .p2align 4
    .global syscall_entry
syscall_entry:
    mov qword ptr [rip + {scratch}], rsp
    mov rsp, offset kstack_top
    push {user_ds}
    push qword ptr [rip + {scratch}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {vector}
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rax, qword ptr [rip + CURRENT_FPU]
    fxsave64 [rax]
    mov rdi, rsp
    xor ebp, ebp
    call {handler}
    ud2
    "#,
    scratch = sym USER_RSP_SCRATCH,
    user_ds = const USER_DS as u64,
    user_cs = const super::gdt::USER_CS as u64,
    vector = const super::trap::SYSCALL_VECTOR,
    handler = sym crate::syscall_from_user,
);

/// The user `rsp` between `syscall` and the first push (one CPU, and
/// interrupts are off from the `syscall` instruction on).
#[unsafe(no_mangle)]
static mut USER_RSP_SCRATCH: u64 = 0;

unsafe extern "C" {
    fn syscall_entry();
}

/// Point `syscall` at [`syscall_entry`].
pub fn init() {
    let sysret_base = (USER_DS as u64 & !3) - 8; // sysret: CS = base+16, SS = base+8
    // SAFETY: STAR/LSTAR/SFMASK describe the GDT loaded by `gdt::init` and
    // an entry point that builds a full frame on the kernel stack; EFER
    // keeps LME, NXE and gains SCE.
    unsafe {
        wrmsr(STAR, (sysret_base << 48) | ((KERNEL_CS as u64) << 32));
        wrmsr(
            LSTAR,
            syscall_entry as unsafe extern "C" fn() as usize as u64,
        );
        wrmsr(SFMASK, SFMASK_BITS);
        wrmsr(EFER, super::cpu::rdmsr(EFER) | 1);
    }
}
