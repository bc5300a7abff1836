//! Hook call sites and what kernel-hooks needs from the kernel.
//!
//! Every observable event calls [`fire`] at exactly one place:
//!
//! | point | where |
//! |---|---|
//! | `syscall:enter` | `syscall_from_user` (main.rs), after the frame is saved |
//! | `syscall:exit` | `sched::resume`, when a thread returns from a syscall (also after it blocked) |
//! | `irq:entry` / `irq:exit` | `sched::irq`, around the interrupt handler |
//! | `fault:page` | `fault::page_fault`, once the outcome is known |
//! | `cap:alloc` / `cap:free` / `cap:map` / `cap:unmap` | `cap::Events`, the MDB's event sink |
//! | `cap:invoke` | `ipc::call`, once per call, successful or not |
//!
//! With the `hooks` feature, `fire` is `capscope_kernel_hooks::fire`: one
//! load and a predictable branch when nothing is attached, the context
//! built only when something is. Without it, `fire` is empty and every
//! call site compiles to nothing (the baseline of the overhead figure).
//!
//! [`platform`] holds the services kernel-hooks' platform trait asks for:
//! time, current ids, fault-safe user reads, readable kernel ranges, user
//! and kernel stack walks, and code pages (in `mm::code`).

#[cfg_attr(not(feature = "hooks"), allow(dead_code))]
pub mod platform;

use core::sync::atomic::{AtomicU32, Ordering};

pub use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::context::{Context, EventHeader};

static CURRENT_TASK: AtomicU32 = AtomicU32::new(0);
static CURRENT_THREAD: AtomicU32 = AtomicU32::new(0);

/// Record which task and thread run (0, 0 in the idle loop).
pub fn set_current(task: u32, thread: u32) {
    CURRENT_TASK.store(task, Ordering::Relaxed);
    CURRENT_THREAD.store(thread, Ordering::Relaxed);
}

/// (task, thread) ids of what runs now.
pub fn current() -> (u32, u32) {
    (
        CURRENT_TASK.load(Ordering::Relaxed),
        CURRENT_THREAD.load(Ordering::Relaxed),
    )
}

/// The header every context starts with.
pub fn header() -> EventHeader {
    let (task, thread) = current();
    EventHeader {
        timestamp_ns: crate::time::now_ns(),
        cpu: 0,
        task,
        thread,
        _reserved: 0,
    }
}

/// A timer tick, for `interval` probes.
#[inline(always)]
pub fn tick() {
    #[cfg(feature = "hooks")]
    capscope_kernel_hooks::tick();
}

/// Report an event; `make` runs only if a program is attached.
///
/// The flag test is inlined at the call site; everything else (building
/// the context, running programs) is in a cold, out-of-line function, so
/// the hot path of a site with nothing attached is a load, a test and a
/// not-taken branch, and the surrounding code is laid out as if the site
/// were not there.
#[inline(always)]
pub fn fire<C: Context>(point: AttachPoint, make: impl FnOnce() -> C) {
    #[cfg(feature = "hooks")]
    if capscope_kernel_hooks::is_armed(point) {
        fire_cold(point, make);
    }
    #[cfg(not(feature = "hooks"))]
    let _ = (point, make);
}

#[cfg(feature = "hooks")]
#[cold]
#[inline(never)]
fn fire_cold<C: Context>(point: AttachPoint, make: impl FnOnce() -> C) {
    capscope_kernel_hooks::fire(point, make);
}
