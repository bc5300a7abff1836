//! A user-level capability slot allocator: which slots of this task's
//! capability space are in use. The kernel does not know about it; like
//! L4Re's, it is the program's own bookkeeping, and forgetting to free a
//! slot here is exactly the leak CapCheck finds.

use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::slots::FIRST_FREE;

/// A bitmap of slots.
pub struct SlotAlloc {
    used: [u64; SLOTS / 64],
    outstanding: usize,
}

impl SlotAlloc {
    /// All slots from `FIRST_FREE` on are free.
    pub const fn new() -> SlotAlloc {
        SlotAlloc {
            used: [0; SLOTS / 64],
            outstanding: 0,
        }
    }

    /// Take the lowest free slot.
    pub fn alloc(&mut self) -> Option<u64> {
        let i = (FIRST_FREE as usize..SLOTS).find(|&i| self.used[i / 64] & (1 << (i % 64)) == 0)?;
        self.used[i / 64] |= 1 << (i % 64);
        self.outstanding += 1;
        Some(i as u64)
    }

    /// Give a slot back.
    pub fn free(&mut self, slot: u64) {
        let i = slot as usize;
        if i < SLOTS && self.used[i / 64] & (1 << (i % 64)) != 0 {
            self.used[i / 64] &= !(1 << (i % 64));
            self.outstanding -= 1;
        }
    }

    /// Slots taken and not given back.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }
}

impl Default for SlotAlloc {
    fn default() -> Self {
        Self::new()
    }
}
