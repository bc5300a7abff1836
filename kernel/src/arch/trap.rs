//! Trap entry and exit.
//!
//! Every vector enters through a 16-byte stub that pushes a dummy error
//! code (where the CPU pushes none) and the vector number, then jumps to
//! `trap_common`, which pushes the general registers. The result is a
//! [`TrapFrame`] on the IST stack. Then:
//!
//! - **From user mode** (any vector): the thread's FPU/SSE state is saved
//!   with `fxsave` (before any Rust code can touch an XMM register), the
//!   stack switches to the top of the kernel stack, and
//!   `trap_from_user(frame)` runs. It copies the frame into the thread and
//!   never returns: the way back to user mode is [`return_to_user`], for
//!   whichever thread the scheduler picks.
//! - **An interrupt in kernel mode**: interrupts are enabled only inside
//!   the idle loop's `sti; hlt`, so this is the idle loop, whose state is
//!   worthless. The stack switches to the kernel stack's top and
//!   `irq_from_idle` runs, also never returning.
//! - **An exception in kernel mode**: `trap_from_kernel` runs on the IST
//!   stack and returns if it could fix the fault (an exception-table
//!   fixup in a user-copy routine); otherwise it reports and stops. The
//!   only faults it fixes are inside the `extern "C"` copy routines, whose
//!   callers keep no live XMM values, so the handler's own SSE use is
//!   harmless.

use core::arch::global_asm;

use capscope_kernel_core::uabi::Regs;

/// Vector number recorded for a `syscall` entry (not a hardware vector).
pub const SYSCALL_VECTOR: u64 = 0x100;

/// The registers as the entry path pushes them (lowest address first).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// The user-visible registers.
    pub fn regs(&self) -> Regs {
        Regs {
            r15: self.r15,
            r14: self.r14,
            r13: self.r13,
            r12: self.r12,
            r11: self.r11,
            r10: self.r10,
            r9: self.r9,
            r8: self.r8,
            rbp: self.rbp,
            rdi: self.rdi,
            rsi: self.rsi,
            rdx: self.rdx,
            rcx: self.rcx,
            rbx: self.rbx,
            rax: self.rax,
            rip: self.rip,
            rsp: self.rsp,
            rflags: self.rflags,
        }
    }
}

/// 512-byte `fxsave` area.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    /// The state of a fresh thread: x87 control word 0x37f, MXCSR 0x1f80
    /// (all exceptions masked), everything else zero.
    pub fn initial() -> FxArea {
        let mut a = [0u8; 512];
        a[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        a[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        FxArea(a)
    }
}

/// Where the entry path saves the FPU state of the thread that trapped;
/// the scheduler points it at the thread it returns to.
#[unsafe(no_mangle)]
pub static mut CURRENT_FPU: *mut FxArea = core::ptr::null_mut();

global_asm!(
    r#"
    .section .text.trap, "ax"
    .p2align 4
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push 0
    .endif
    push vec
    jmp trap_common
    .set vec, vec + 1
    .endr

    .p2align 4
trap_common:
    cld
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
    test qword ptr [rsp + 18 * 8], 3
    jz 1f
    mov rax, qword ptr [rip + CURRENT_FPU]
    fxsave64 [rax]
    mov rdi, rsp
    mov rsp, offset kstack_top
    xor ebp, ebp
    call {from_user}
    ud2
1:
    cmp qword ptr [rsp + 15 * 8], 32
    jb 2f
    mov rdi, rsp
    mov rsp, offset kstack_top
    xor ebp, ebp
    call {from_idle}
    ud2
2:
    mov rdi, rsp
    call {from_kernel}
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

    // return_iret(frame: *const TrapFrame, fpu: *const FxArea) -> !
    .global return_iret
return_iret:
    fxrstor64 [rsi]
    mov rsp, rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

    // return_sysret(frame: *const TrapFrame, fpu: *const FxArea) -> !
    .global return_sysret
return_sysret:
    fxrstor64 [rsi]
    mov r15, [rdi + 0 * 8]
    mov r14, [rdi + 1 * 8]
    mov r13, [rdi + 2 * 8]
    mov r12, [rdi + 3 * 8]
    mov r10, [rdi + 5 * 8]
    mov r9,  [rdi + 6 * 8]
    mov r8,  [rdi + 7 * 8]
    mov rbp, [rdi + 8 * 8]
    mov rsi, [rdi + 10 * 8]
    mov rdx, [rdi + 11 * 8]
    mov rbx, [rdi + 13 * 8]
    mov rax, [rdi + 14 * 8]
    mov rcx, [rdi + 17 * 8]
    mov r11, [rdi + 19 * 8]
    mov rsp, [rdi + 20 * 8]
    mov rdi, [rdi + 9 * 8]
    sysretq

    // enter_idle() -> !: restart the idle loop on a fresh kernel stack.
    .global enter_idle
enter_idle:
    mov rsp, offset kstack_top
    xor ebp, ebp
    call {idle}
    ud2
    "#,
    from_user = sym crate::trap_from_user,
    from_idle = sym crate::irq_from_idle,
    from_kernel = sym crate::trap_from_kernel,
    idle = sym crate::idle_loop,
);

unsafe extern "C" {
    fn return_iret(frame: *const TrapFrame, fpu: *const FxArea) -> !;
    fn return_sysret(frame: *const TrapFrame, fpu: *const FxArea) -> !;
    fn enter_idle() -> !;
}

/// How to go back to user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitPath {
    /// `sysretq`: the thread is returning from a syscall (rcx and r11 are
    /// clobbered, as the syscall ABI says).
    Sysret,
    /// `iretq`: every register restored (after an interrupt, a fault
    /// upcall or a fault return, and for a thread's first run).
    Iret,
}

/// Load `frame` and `fpu` and enter user mode.
///
/// # Safety
/// 1. `frame.cs`/`frame.ss` are the user selectors, `frame.rflags` has IF
///    set and no privileged bits, and `frame.rip` is a canonical user
///    address (sysret and iret to a non-canonical address fault in ring 0).
/// 2. The current address space maps the thread's memory.
/// 3. `frame` and `fpu` stay valid until the instruction that leaves the
///    kernel (they live in the thread object, which nothing frees between
///    here and there: interrupts are off).
pub unsafe fn return_to_user(frame: *const TrapFrame, fpu: *const FxArea, path: ExitPath) -> ! {
    // SAFETY: the caller upholds the contract above.
    unsafe {
        CURRENT_FPU = fpu as *mut FxArea;
        match path {
            ExitPath::Sysret => return_sysret(frame, fpu),
            ExitPath::Iret => return_iret(frame, fpu),
        }
    }
}

/// Abandon the current kernel stack and run the idle loop.
pub fn idle() -> ! {
    // SAFETY: the kernel is not preemptible and keeps no state on the
    // kernel stack between entries, so discarding it is sound.
    unsafe { enter_idle() }
}
