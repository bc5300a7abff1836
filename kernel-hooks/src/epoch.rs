//! Grace periods: when memory a program might still be using can be freed.
//!
//! Attach and detach publish a new [`crate::registry::Snapshot`] of the
//! attached programs with one atomic pointer store. The old snapshot, and
//! on detach the object's code and maps, may still be in use by firings
//! that loaded the old pointer. [`synchronize`] returns only when none can
//! be: after it, the old snapshot and everything only it referenced can be
//! freed.
//!
//! # The argument
//!
//! A firing CPU ([`crate::fire::Running`]) stores its sequence number odd,
//! then loads the snapshot pointer, runs the programs, and finally stores
//! the sequence number even with release ordering. It executes no barrier:
//! on x86 its odd store may still sit in its store buffer while it loads the
//! (old) pointer. The writer therefore
//!
//! 1. publishes the new snapshot (a sequentially consistent store),
//! 2. calls [`crate::Platform::synchronize_cpus`], which makes every CPU
//!    execute a full barrier. Any firing that loaded the old pointer did so
//!    before that barrier on its CPU, so its odd store is visible once
//!    `synchronize_cpus` returns; any firing that starts after the barrier
//!    loads the new pointer.
//! 3. reads each CPU's sequence number (acquire). Even: the CPU runs no
//!    firing that began before the barrier (its odd store would be visible),
//!    and any later firing uses the new snapshot. Odd: wait until the value
//!    changes; the release store that changes it orders all of that
//!    firing's accesses before our free, and the CPU's next firing begins
//!    after the barrier.
//!
//! This is the asymmetric-fence scheme of userspace RCU's `membarrier`
//! flavour, with the kernel's IPI in the role of the system call. On a
//! single-CPU, non-preemptible kernel it degenerates to nothing:
//! `synchronize_cpus` is empty, and the control path that detaches can only
//! be interrupted by a hook (in the idle loop) whose firing completes before
//! the control path resumes, so its own CPU's number is always even when it
//! looks. The wait is bounded by the longest program run, not by a timer
//! tick, and an idle or halted CPU never delays anybody.

use core::sync::atomic::{Ordering::*, fence};

use crate::fire::{CPUS, ncpus};
use crate::platform::Platform;

/// Wait until no firing that could have seen anything unpublished before
/// this call is still running. Must not be called from a program.
pub(crate) fn synchronize(p: &dyn Platform) {
    fence(SeqCst);
    p.synchronize_cpus();
    fence(SeqCst);
    let me = p.cpu();
    for (i, slot) in CPUS.iter().take(ncpus()).enumerate() {
        let s = slot.seq.load(Acquire);
        // Our own CPU cannot be inside a firing while it runs this code
        // (the control path is not a program); waiting for it would hang.
        if s & 1 == 0 || i == me {
            continue;
        }
        while slot.seq.load(Acquire) == s {
            p.relax();
        }
    }
}
