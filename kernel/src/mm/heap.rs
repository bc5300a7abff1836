//! The kernel heap: a linked-list allocator over one contiguous block of
//! physical memory (seen through the direct map), reserved at boot.
//!
//! Its size bounds all kernel metadata; object quotas bound what user
//! programs can make the kernel allocate. Running out is a kernel panic
//! (reported and exits QEMU), never silent corruption.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap;

use crate::sync::Global;

struct KernelHeap(Global<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Global::new(Heap::empty()));

// SAFETY: `Heap` hands out disjoint blocks of the region given in `init`;
// `Global` serialises access (one CPU, interrupts off in the kernel).
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's
        // contract), so it is non-null and owned by the heap.
        unsafe {
            self.0
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout)
        }
    }
}

/// Give the heap `[start, start + size)` (direct-map addresses).
pub fn init(start: u64, size: u64) {
    // SAFETY: the caller reserved this memory for the heap alone.
    unsafe { HEAP.0.lock().init(start as *mut u8, size as usize) }
}

/// (used, size) in bytes.
pub fn stats() -> (usize, usize) {
    let h = HEAP.0.lock();
    (h.used(), h.size())
}
