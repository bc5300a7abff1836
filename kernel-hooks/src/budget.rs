//! The global limit on probe memory.
//!
//! Every loaded object is charged for its maps (their exact footprint,
//! computed before anything is allocated) and its code. A load that would
//! go over the limit is refused before it allocates anything, with an error
//! that says how much it needed and how much was free. The charge is a
//! guard owned by the object: it is returned when the object is freed,
//! which happens after detach's grace period, when the memory really is
//! free again.

use core::sync::atomic::{AtomicU64, Ordering::*};

use crate::error::LoadError;

/// The default limit: 64 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 << 20;

static LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_MEMORY_LIMIT);
static USED: AtomicU64 = AtomicU64::new(0);

/// Set the limit on memory all loaded objects may take together. Objects
/// loaded already keep their memory, even if that is now over the limit.
pub fn set_memory_limit(bytes: u64) {
    LIMIT.store(bytes, Relaxed);
}

/// The current limit.
pub fn memory_limit() -> u64 {
    LIMIT.load(Relaxed)
}

/// Bytes charged to loaded objects (including detached objects the host
/// still holds).
pub fn memory_in_use() -> u64 {
    USED.load(Relaxed)
}

/// Bytes charged to one object; returned when dropped.
#[derive(Debug)]
pub(crate) struct Charge(u64);

impl Charge {
    /// Charge `bytes` against the limit, or refuse.
    pub(crate) fn take(bytes: u64) -> Result<Charge, LoadError> {
        let limit = LIMIT.load(Relaxed);
        let mut used = USED.load(Relaxed);
        loop {
            let new = match used.checked_add(bytes) {
                Some(n) if n <= limit => n,
                _ => {
                    return Err(LoadError::MemoryLimit {
                        requested: bytes,
                        in_use: used,
                        limit,
                    });
                }
            };
            match USED.compare_exchange_weak(used, new, Relaxed, Relaxed) {
                Ok(_) => return Ok(Charge(bytes)),
                Err(now) => used = now,
            }
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.0
    }

    /// Take over `other`'s bytes, so one guard returns both.
    pub(crate) fn merge(&mut self, other: Charge) {
        self.0 += other.0;
        core::mem::forget(other);
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        USED.fetch_sub(self.0, Relaxed);
    }
}
