//! The physical frame allocator: a LIFO free list threaded through the
//! free frames themselves (through the direct map), so it needs no memory
//! of its own and both operations are O(1).

use super::PhysAddr;
use crate::sync::Global;

struct FreeList {
    head: Option<PhysAddr>,
    free: u64,
    total: u64,
}

static FRAMES: Global<FreeList> = Global::new(FreeList {
    head: None,
    free: 0,
    total: 0,
});

/// Hand the 4 KiB frames of `[start, end)` to the allocator.
pub fn add_range(start: u64, end: u64) {
    let mut f = FRAMES.lock();
    let mut a = (start + 4095) & !4095;
    while a + 4096 <= end {
        push(&mut f, PhysAddr(a));
        f.total += 1;
        a += 4096;
    }
}

fn push(f: &mut FreeList, frame: PhysAddr) {
    let next = f.head.map_or(u64::MAX, |p| p.0);
    // SAFETY: `frame` is a free frame inside the direct map; nobody else
    // holds it, so writing the link into its first word is exclusive.
    unsafe { frame.as_ptr::<u64>().write(next) };
    f.head = Some(frame);
    f.free += 1;
}

/// A zeroed frame, or `None` when memory is exhausted.
pub fn alloc_zeroed() -> Option<PhysAddr> {
    let mut f = FRAMES.lock();
    let frame = f.head?;
    // SAFETY: the head frame is free and mapped by the direct map; its
    // first word holds the next link.
    let next = unsafe { frame.as_ptr::<u64>().read() };
    f.head = (next != u64::MAX).then_some(PhysAddr(next));
    f.free -= 1;
    // SAFETY: the frame is now exclusively ours.
    unsafe { core::ptr::write_bytes(frame.as_ptr::<u8>(), 0, 4096) };
    Some(frame)
}

/// Return a frame.
pub fn free(frame: PhysAddr) {
    debug_assert!(frame.0.is_multiple_of(4096));
    push(&mut FRAMES.lock(), frame);
}

/// (free, total) frame counts.
pub fn stats() -> (u64, u64) {
    let f = FRAMES.lock();
    (f.free, f.total)
}
