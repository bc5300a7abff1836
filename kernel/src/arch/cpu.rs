//! Thin wrappers over privileged instructions.
//!
//! Each is `unsafe` only where misuse could break memory safety (page
//! tables, MSRs that move the syscall entry); port I/O to the devices the
//! kernel owns and reading control registers are safe.

use core::arch::asm;

/// Write a byte to an I/O port the kernel owns.
pub fn outb(port: u16, val: u8) {
    // SAFETY: port I/O cannot touch memory; callers only use the kernel's
    // own devices (serial, PIC, PIT, debug exit).
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") val, options(nomem, nostack, preserves_flags))
    }
}

/// Read a byte from an I/O port the kernel owns.
pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as for `outb`.
    unsafe {
        asm!("in al, dx", out("al") v, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    v
}

/// Write a dword to an I/O port.
pub fn outl(port: u16, val: u32) {
    // SAFETY: as for `outb`.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") val, options(nomem, nostack, preserves_flags))
    }
}

/// Read a model-specific register.
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reading the MSRs the kernel uses has no side effects.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    }
    (hi as u64) << 32 | lo as u64
}

/// Write a model-specific register.
///
/// # Safety
/// 1. The MSR must exist.
/// 2. The value must keep the kernel's invariants (e.g. `LSTAR` must point
///    at the syscall entry, `EFER` must keep long mode on).
pub unsafe fn wrmsr(msr: u32, val: u64) {
    // SAFETY: the caller upholds the contract above.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") val as u32, in("edx") (val >> 32) as u32, options(nostack, preserves_flags))
    }
}

/// The time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads a counter.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    (hi as u64) << 32 | lo as u64
}

/// CR2: the faulting address of the last page fault.
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// CR3: the current top-level page table (physical address).
pub fn cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Switch address spaces.
///
/// # Safety
/// `pml4` must be the physical address of a valid PML4 that maps the kernel
/// half exactly as the current one does (code, stacks, direct map).
pub unsafe fn write_cr3(pml4: u64) {
    // SAFETY: the caller guarantees the kernel stays mapped.
    unsafe { asm!("mov cr3, {}", in(reg) pml4, options(nostack, preserves_flags)) }
}

/// Drop the TLB entry of one page.
pub fn invlpg(addr: u64) {
    // SAFETY: invalidating a TLB entry is always safe; the next access walks
    // the page tables again.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) }
}

/// Read CR0 and CR4 (for fault reports).
pub fn cr0_cr4() -> (u64, u64) {
    let (a, b): (u64, u64);
    // SAFETY: reading control registers has no side effects.
    unsafe {
        asm!("mov {}, cr0", "mov {}, cr4", out(reg) a, out(reg) b, options(nomem, nostack, preserves_flags))
    }
    (a, b)
}

/// Stop forever with interrupts off (after a fatal error, if the exit
/// device is missing).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops this CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}

/// The current frame pointer (for kernel stack walks).
#[inline(always)]
pub fn rbp() -> u64 {
    let v: u64;
    // SAFETY: reading a register.
    unsafe { asm!("mov {}, rbp", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}
