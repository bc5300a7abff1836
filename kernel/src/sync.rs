//! The kernel's one synchronisation primitive.
//!
//! The kernel runs on one CPU with interrupts disabled whenever it runs
//! (they are enabled only in the idle loop's `sti; hlt`), so a global needs
//! no lock, only protection against re-entrancy bugs. [`Global`] is a
//! `RefCell` that may live in a `static`: a nested `lock()` of the same
//! global panics (and the panic handler reports it) instead of silently
//! aliasing. Going SMP would mean replacing this type with a spinlock.

use core::cell::{RefCell, RefMut};

/// A global, exclusively borrowed at a time.
pub struct Global<T>(RefCell<T>);

// SAFETY: single CPU, and no kernel code runs concurrently with other
// kernel code (interrupts are off in the kernel), so a `RefCell` is never
// touched by two contexts at once. Interrupt handlers that run from the
// idle loop start from a fresh stack, after the idle loop dropped every
// borrow.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    /// A global holding `v`.
    pub const fn new(v: T) -> Global<T> {
        Global(RefCell::new(v))
    }

    /// Borrow exclusively. Panics on re-entrant use (a kernel bug).
    #[track_caller]
    pub fn lock(&self) -> RefMut<'_, T> {
        self.0.borrow_mut()
    }
}
