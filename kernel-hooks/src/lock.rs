//! A spin lock that the fire path may give up on.
//!
//! Locks in map code are taken in two places: on the fire path (a program's
//! helper call) and on the control path (the host reading or clearing a
//! map). A control-path holder can be interrupted on its own CPU by an event
//! whose program wants the same lock; spinning there forever would deadlock
//! a single-CPU kernel. So the fire path only *tries* for a bounded number of
//! spins and then drops the event (counted as a drop), while the control path
//! waits as long as it takes: a fire-path holder never blocks, so it always
//! finishes.

use core::sync::atomic::{AtomicBool, Ordering};

/// How many times the fire path re-tries a held lock before dropping the
/// event: far more than any holder needs (one chain, one record), and few
/// enough (about 100 µs) that an interrupt finding the lock held by the
/// control path it interrupted, which cannot run until the interrupt
/// returns, gives up quickly.
pub(crate) const FIRE_SPINS: u32 = 1 << 12;

/// Pause between tries; every 64th, let the platform yield (see
/// [`crate::Platform::relax`]).
#[inline]
fn relax(i: u32) {
    if i.is_multiple_of(64)
        && let Some(p) = crate::fire::platform()
    {
        p.relax();
        return;
    }
    core::hint::spin_loop();
}

/// A test-and-test-and-set spin lock guarding no data of its own: map code
/// keeps its state in atomics, and the lock only orders structural changes.
#[derive(Default)]
pub(crate) struct SpinLock(AtomicBool);

/// Holds a [`SpinLock`] until dropped.
pub(crate) struct Guard<'a>(&'a SpinLock);

impl SpinLock {
    /// An unlocked lock.
    pub(crate) const fn new() -> SpinLock {
        SpinLock(AtomicBool::new(false))
    }

    #[inline]
    fn try_once(&self) -> bool {
        !self.0.load(Ordering::Relaxed)
            && self
                .0
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Fire path: take the lock, or give up after [`FIRE_SPINS`] tries.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<Guard<'_>> {
        if self.try_once() {
            return Some(Guard(self));
        }
        self.try_lock_slow()
    }

    #[cold]
    fn try_lock_slow(&self) -> Option<Guard<'_>> {
        for i in 1..FIRE_SPINS {
            relax(i);
            if self.try_once() {
                return Some(Guard(self));
            }
        }
        None
    }

    /// Control path: take the lock, waiting as long as needed.
    pub(crate) fn lock(&self) -> Guard<'_> {
        let mut i = 0u32;
        loop {
            if self.try_once() {
                return Guard(self);
            }
            i = i.wrapping_add(1);
            relax(i);
        }
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_lock_gives_up_while_held_and_succeeds_after() {
        let l = SpinLock::new();
        let g = l.lock();
        assert!(l.try_lock().is_none());
        drop(g);
        assert!(l.try_lock().is_some());
    }
}
