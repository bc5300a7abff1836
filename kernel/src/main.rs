//! capscope's reference capability microkernel.
//!
//! A small Fiasco.OC/seL4-style kernel for x86-64 that boots under QEMU
//! (PVH `-kernel`), runs ring-3 workloads, and calls `kernel-hooks` at every
//! event a probe can observe. Design, in the order a reader meets it:
//!
//! - **Boot** (`arch::boot`): 32-bit PVH entry → long mode → [`kentry`],
//!   which brings up the console, memory, descriptor tables, timer and
//!   syscalls, then starts the workload named by `workload=` on the
//!   command line.
//! - **One kernel stack, not preemptible** (`arch::trap`): the kernel runs
//!   with interrupts off; interrupts arrive from user mode or from the idle
//!   loop. A thread that blocks keeps no kernel stack: its saved user state
//!   plus a [`task::Block`] describe what it waits for, and the kernel
//!   finishes the operation when it wakes (seL4's model). So every kernel
//!   entry starts at the top of the same stack and leaves through
//!   [`sched::resume`].
//! - **Capabilities** (`cap`, on top of `capscope-kernel-core`): per-task
//!   capability spaces, a mapping database for revocation, six object kinds,
//!   reference counts, decode/invoke split.
//! - **Faults** (`fault`): demand paging of attached Memory, reflection to
//!   user fault handlers, kill otherwise. User memory is only touched
//!   through `arch::uaccess`, guarded by an exception table.
//! - **Hooks** (`hooks`): one fire call per event, compiled out without
//!   the `hooks` feature.
//!
//! Guarantees: no syscall argument can make the kernel panic or fault; a
//! kernel bug prints a report and exits QEMU with status 127 (QEMU exit
//! code 255), so nothing hangs silently. Assumptions: one CPU, at most
//! 4 GiB of RAM, QEMU's `isa-debug-exit` at port 0xf4 for exit codes.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod bootinfo;
mod dev;
mod lang;
mod mm;
mod sync;

use arch::trap::TrapFrame;
use dev::serial::{COM1, COM2};

/// The 64-bit entry, called by the boot trampoline on the kernel stack with
/// the physical address of the PVH start info.
#[unsafe(no_mangle)]
pub extern "C" fn kentry(start_info: u32) -> ! {
    COM1.init();
    bootinfo::parse(start_info as u64);
    kprintln!("capscope kernel: cmdline `{}`", bootinfo::cmdline());
    dev::exit::exit_qemu(0)
}

#[unsafe(no_mangle)]
extern "C" fn trap_from_user(_frame: &TrapFrame) -> ! {
    dev::exit::exit_qemu(1)
}

#[unsafe(no_mangle)]
extern "C" fn irq_from_idle(_frame: &TrapFrame) -> ! {
    dev::exit::exit_qemu(1)
}

#[unsafe(no_mangle)]
extern "C" fn trap_from_kernel(frame: &mut TrapFrame) {
    arch::report::kernel_fault(frame)
}

#[unsafe(no_mangle)]
extern "C" fn syscall_from_user(_frame: &TrapFrame) -> ! {
    dev::exit::exit_qemu(1)
}

#[unsafe(no_mangle)]
extern "C" fn idle_loop() -> ! {
    let _ = COM2;
    loop {
        // SAFETY: enabling interrupts only across `hlt` is the idle loop's
        // contract: an interrupt here abandons this stack (see arch::trap).
        unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) }
    }
}
