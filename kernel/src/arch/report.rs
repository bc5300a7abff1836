//! The kernel-fault report: what a developer needs to see when the kernel
//! itself breaks (vector, RIP, CR2, registers, kernel stack), after which
//! QEMU exits with [`KERNEL_FAILURE`], so no test can hang on a kernel bug.

use super::boot;
use super::cpu;
use super::trap::TrapFrame;
use crate::dev::exit::{KERNEL_FAILURE, raw_exit};
use crate::kprintln;

/// Exception names by vector.
pub fn vector_name(v: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error",
        "debug",
        "NMI",
        "breakpoint",
        "overflow",
        "bound range",
        "invalid opcode",
        "device not available",
        "double fault",
        "coprocessor overrun",
        "invalid TSS",
        "segment not present",
        "stack fault",
        "general protection",
        "page fault",
        "reserved",
        "x87 floating point",
        "alignment check",
        "machine check",
        "SIMD floating point",
        "virtualization",
        "control protection",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "hypervisor injection",
        "VMM communication",
        "security",
        "reserved",
    ];
    NAMES.get(v as usize).copied().unwrap_or("interrupt")
}

/// Walk a kernel frame-pointer chain starting at `rbp`, calling `f` with
/// each return address. Only frames inside the kernel stack or an IST
/// stack are followed, and each must be above the last, so a corrupt
/// chain ends the walk instead of faulting. Returns the frame count.
pub fn walk_kernel_stack(mut rbp: u64, mut f: impl FnMut(u64)) -> usize {
    let stacks = [
        boot::kernel_stack(),
        boot::ist_stack(0),
        boot::ist_stack(1),
        boot::ist_stack(2),
        boot::ist_stack(3),
    ];
    let mut n = 0;
    while n < 64 && rbp.is_multiple_of(8) && stacks.iter().any(|s| s.contains(rbp, 16)) {
        // SAFETY: [rbp, rbp+16) lies inside a mapped kernel stack (checked
        // just above), so both reads are of mapped, initialised memory.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        // Stop at the first return address outside the kernel image (the
        // boot trampoline's, or garbage).
        if ret < crate::mm::KERNEL_VMA {
            break;
        }
        f(ret);
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    n
}

/// Print a kernel fault and exit QEMU.
pub fn kernel_fault(frame: &TrapFrame) -> ! {
    let (cr0, cr4) = cpu::cr0_cr4();
    kprintln!();
    kprintln!(
        "KERNEL FAULT: vector {} ({})",
        frame.vector,
        vector_name(frame.vector)
    );
    kprintln!(
        "  rip {:#018x}  cs {:#x}  rflags {:#x}  error {:#x}",
        frame.rip,
        frame.cs,
        frame.rflags,
        frame.error
    );
    kprintln!(
        "  cr2 {:#018x}  cr3 {:#x}  cr0 {:#x}  cr4 {:#x}",
        cpu::cr2(),
        cpu::cr3(),
        cr0,
        cr4
    );
    kprintln!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx
    );
    kprintln!(
        "  rsi {:#018x} rdi {:#018x} rbp {:#018x} rsp {:#018x}",
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.rsp
    );
    kprintln!(
        "  r8  {:#018x} r9  {:#018x} r10 {:#018x} r11 {:#018x}",
        frame.r8,
        frame.r9,
        frame.r10,
        frame.r11
    );
    kprintln!(
        "  r12 {:#018x} r13 {:#018x} r14 {:#018x} r15 {:#018x}",
        frame.r12,
        frame.r13,
        frame.r14,
        frame.r15
    );
    kprintln!("  kernel stack:");
    kprintln!("    {:#018x}", frame.rip);
    walk_kernel_stack(frame.rbp, |ret| kprintln!("    {ret:#018x}"));
    raw_exit(KERNEL_FAILURE)
}

/// Print a panic with the current kernel stack and exit QEMU.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!();
    kprintln!("KERNEL PANIC: {info}");
    kprintln!("  kernel stack:");
    walk_kernel_stack(cpu::rbp(), |ret| kprintln!("    {ret:#018x}"));
    raw_exit(KERNEL_FAILURE)
}
