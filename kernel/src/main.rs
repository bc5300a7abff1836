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
mod cap;
mod control;
mod dev;
mod fault;
mod hooks;
mod ipc;
mod lang;
mod mm;
mod sched;
mod state;
mod sync;
mod syscall;
mod task;
mod time;
mod workloads;

use capscope_bytecode::abi::consts::sys;
use capscope_bytecode::abi::context::SyscallEnterCtx;
use capscope_kernel_core::error::ret_of;

use arch::trap::{ExitPath, TrapFrame};
use dev::serial::COM1;
use hooks::AttachPoint;
use mm::{DIRECT_MAP, KERNEL_VMA};
use state::KERNEL;
use task::ThreadState;

/// Kernel heap size (capped at a quarter of RAM).
const HEAP_SIZE: u64 = 32 << 20;

/// The 64-bit entry, called by the boot trampoline on the kernel stack with
/// the physical address of the PVH start info.
#[unsafe(no_mangle)]
pub extern "C" fn kentry(start_info: u32) -> ! {
    COM1.init();
    lang::self_test();
    bootinfo::parse(start_info as u64);
    kprintln!("capscope kernel: cmdline `{}`", bootinfo::cmdline());
    init_memory();
    arch::gdt::init();
    arch::idt::init();
    arch::syscall::init();
    arch::uaccess::init();
    mm::code::self_test();
    control::init();
    let serial_irqs = if control::enabled() {
        (1 << 4) | (1 << 3)
    } else {
        1 << 4
    };
    dev::pic::init(1 | serial_irqs);
    time::init();
    hooks::platform::init();
    hooks::platform::init_selftest();
    if bootinfo::arg("selftest") == Some("kernel-fault") {
        // Prove the fault path: touch the kernel stack's guard page.
        let guard = arch::boot::kernel_stack().guard();
        kprintln!("capscope: selftest: reading the kernel stack guard page");
        // SAFETY: deliberately faulting read; the page fault handler
        // reports it and exits QEMU, so the value is never used.
        let _ = unsafe { core::ptr::read_volatile(guard as *const u64) };
    }

    let Some(name) = bootinfo::arg("workload") else {
        kprintln!("capscope: no workload= on the command line; available:");
        for p in workloads::PROGRAMS {
            kprintln!("  {}", p.name);
        }
        dev::exit::exit_qemu(2)
    };
    let Some(program) = workloads::by_name(name) else {
        kprintln!("capscope: unknown workload `{name}`");
        dev::exit::exit_qemu(2)
    };
    let (free, total) = mm::frame::stats();
    KERNEL.lock().page_budget = free;
    kprintln!(
        "capscope: frames {free}/{total} free ({} MiB), TSC {} MHz; starting workload {name}",
        free / 256,
        time::tsc_hz() / 1_000_000
    );
    if let Err(e) = KERNEL.lock().create_init_task(program) {
        panic!("cannot start workload {name}: {e:?}");
    }
    control::workload_ready(name);
    sched::resume()
}

/// Reserve the heap, hand the rest of RAM to the frame allocator, and
/// switch to the kernel's own page tables.
fn init_memory() {
    unsafe extern "C" {
        static __kernel_end: u8;
    }
    let kernel_end = &raw const __kernel_end as u64 - KERNEL_VMA;
    let (ram, n) = bootinfo::ram();
    let ram = &ram[..n];
    let total: u64 = ram.iter().map(|r| r.end - r.start).sum();
    let heap_size = HEAP_SIZE.min(total / 4) & !0xfff;
    let heap_start = (kernel_end + 0x1f_ffff) & !0x1f_ffff;
    let heap_end = heap_start + heap_size;
    assert!(
        ram.iter()
            .any(|r| r.start <= heap_start && heap_end <= r.end),
        "no RAM for the kernel heap"
    );
    // The boot tables map only the first GiB at the direct map, so frames
    // above it join after the switch to the real tables.
    let add = |lo: u64, hi: u64| {
        for r in ram {
            let (s, e) = (r.start.max(lo).max(kernel_end), r.end.min(hi));
            if s < e {
                for (a, b) in [(s, e.min(heap_start)), (s.max(heap_end), e)] {
                    if a < b {
                        mm::frame::add_range(a, b);
                    }
                }
            }
        }
    };
    add(0, 1 << 30);
    mm::heap::init(heap_start + DIRECT_MAP, heap_size);
    mm::paging::init();
    add(1 << 30, mm::DIRECT_MAP_SIZE);
}

/// Entry from user mode for every interrupt and exception (kernel stack).
#[unsafe(no_mangle)]
extern "C" fn trap_from_user(frame: &TrapFrame) -> ! {
    KERNEL.lock().save_user(frame, ExitPath::Iret);
    match frame.vector {
        // NMI and machine check are the machine's, not the thread's.
        2 | 18 => arch::report::kernel_fault(frame),
        0..=31 => KERNEL.lock().user_exception(frame),
        32..=47 => sched::irq(frame.vector, true),
        _ => {}
    }
    // Control requests run here, after the interrupt was handled, on the
    // kernel stack (room for the verifier and the JIT), never inside the
    // handler or on an IST stack.
    control::poll();
    sched::resume()
}

/// An interrupt that arrived in the idle loop (kernel stack, fresh).
#[unsafe(no_mangle)]
extern "C" fn irq_from_idle(frame: &TrapFrame) -> ! {
    if (32..48).contains(&frame.vector) {
        sched::irq(frame.vector, false);
    }
    control::poll();
    sched::resume()
}

/// An exception in kernel mode (IST stack): fixed up or fatal.
#[unsafe(no_mangle)]
extern "C" fn trap_from_kernel(frame: &mut TrapFrame) {
    fault::kernel_fault(frame)
}

/// The `syscall` instruction (kernel stack).
#[unsafe(no_mangle)]
extern "C" fn syscall_from_user(frame: &TrapFrame) -> ! {
    let nr = frame.rax;
    let args = [
        frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
    ];
    // The enter hook fires before the kernel state is touched (a probe's
    // user stack walk needs only the registers noted here).
    hooks::platform::note_user_regs(frame.rip, frame.rbp);
    hooks::fire(AttachPoint::SyscallEnter, || SyscallEnterCtx {
        header: hooks::header(),
        nr,
        arg0: args[0],
        arg1: args[1],
        arg2: args[2],
        arg3: args[3],
        arg4: args[4],
        arg5: args[5],
    });
    let mut k = KERNEL.lock();
    k.save_user(frame, ExitPath::Sysret);
    let id = k.cur_id();
    k.cur().syscall_nr = Some(nr);
    if let syscall::Outcome::Ret(r) = syscall::dispatch(&mut k, nr, args)
        && let Some(t) = k
            .threads
            .get_mut(&id)
            .filter(|t| t.state != ThreadState::Dead)
    {
        t.frame.rax = ret_of(r) as u64;
    }
    if nr == sys::YIELD_CPU {
        k.yield_current();
    }
    drop(k);
    sched::resume()
}

/// The idle loop: wait for an interrupt. Each interrupt abandons this
/// stack (see `arch::trap`), so the loop body runs once per wake-up.
#[unsafe(no_mangle)]
extern "C" fn idle_loop() -> ! {
    workloads::set_current(None);
    loop {
        // SAFETY: enabling interrupts only across `hlt` is the idle loop's
        // contract: an interrupt here abandons this stack (see arch::trap).
        unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) }
    }
}
