//! `leaky`: the grow_heap/shrink_heap bug from the CapCheck talk.
//!
//! `grow_heap` allocates a capability slot and a Memory object and attaches
//! it; `shrink_heap` detaches the memory but never frees the capability.
//! Some shrinks use the fixed version, which also deletes the capability.
//! The workload counts leaks from its own slot bookkeeping, checks each
//! leaked slot still holds a Memory capability, and prints the count.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use capscope_user_rt::consts::{kind, rights};
use capscope_user_rt::slots::SlotAlloc;
use capscope_user_rt::{println, sys};
use capscope_workloads::{FACTORY, check};

const HEAP_BASE: u64 = 0x1000_0000_0000;
const GROWS: usize = 8;
/// Which grows get the buggy shrink.
const BUGGY: [bool; GROWS] = [true, false, true, true, false, true, false, true];

struct Heap {
    slots: SlotAlloc,
    next: u64,
    regions: [(u64, u64); GROWS],
    count: usize,
}

#[inline(never)]
fn grow_heap(h: &mut Heap, size: u64) -> u64 {
    let idx = h.slots.alloc().expect("a free slot");
    check(
        "create memory",
        sys::create(FACTORY, kind::MEMORY, idx, size),
    );
    let addr = h.next;
    h.next += (size + 0xfff) & !0xfff;
    h.next += 0x1000; // a gap, so regions never touch
    check(
        "attach",
        sys::attach(idx, addr, rights::READ | rights::WRITE),
    );
    // SAFETY: the region was just attached read-write; first touch maps it.
    unsafe { core::ptr::write_volatile(addr as *mut u64, size) };
    h.regions[h.count] = (addr, idx);
    h.count += 1;
    addr
}

/// The bug: the memory goes, the capability (and its slot) stays.
#[inline(never)]
fn shrink_heap(_h: &mut Heap, addr: u64) {
    check("detach", sys::detach(addr));
}

/// The fix: also delete the capability and free the slot.
#[inline(never)]
fn shrink_heap_fixed(h: &mut Heap, addr: u64) {
    check("detach", sys::detach(addr));
    let idx = h
        .regions
        .iter()
        .find(|r| r.0 == addr)
        .expect("a grown region")
        .1;
    check("delete", sys::delete(idx));
    h.slots.free(idx);
}

fn main() -> u64 {
    let mut h = Heap {
        slots: SlotAlloc::new(),
        next: HEAP_BASE,
        regions: [(0, 0); GROWS],
        count: 0,
    };
    let mut addrs = [0u64; GROWS];
    for (i, a) in addrs.iter_mut().enumerate() {
        *a = grow_heap(&mut h, 4096 * (1 + i as u64 % 3));
    }
    for (i, &a) in addrs.iter().enumerate() {
        if BUGGY[i] {
            shrink_heap(&mut h, a);
        } else {
            shrink_heap_fixed(&mut h, a);
        }
    }
    let leaked = h.slots.outstanding();
    // The kernel must agree: every leaked slot still holds a Memory cap.
    let confirmed = h.regions[..h.count]
        .iter()
        .filter(|r| sys::cap_info(r.1).is_ok_and(|c| c.kind == kind::MEMORY))
        .count();
    if confirmed != leaked {
        println!("leaky: bookkeeping says {leaked} leaked, kernel shows {confirmed}");
        return 1;
    }
    // The ground truth names the leaked slots too, so a checker's report
    // can be compared capability by capability, not just counted.
    let mut line = capscope_user_rt::console::Console::new();
    let _ = write!(line, "leaky: leaked {leaked} capabilities (slots");
    for (i, r) in h.regions[..h.count].iter().enumerate() {
        if BUGGY[i] {
            let _ = write!(line, " {}", r.1);
        }
    }
    let _ = writeln!(line, ")");
    0
}

capscope_user_rt::entry!(main);
