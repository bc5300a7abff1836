//! `overmap`: maps onto occupied slots K times among correct maps.
//!
//! The workload tracks which slots it believes are occupied; a map onto an
//! occupied slot without `MAP_NO_OVERMAP` is an overmap. The kernel's
//! return value (1 = replaced) must agree with that bookkeeping.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use capscope_user_rt::consts::{kind, map_flags, rights};
use capscope_user_rt::{Error, println, sys};
use capscope_workloads::{FACTORY, SELF_TASK, check};

const A: u64 = 10;
const B: u64 = 11;
const X: u64 = 20;
const Y: u64 = 21;
const Z: u64 = 22;

fn main() -> u64 {
    check("gate a", sys::create(FACTORY, kind::GATE, A, 1));
    check("gate b", sys::create(FACTORY, kind::GATE, B, 2));
    let mut occupied = [false; 64];
    let (mut maps, mut overmaps) = (0u64, 0u64);
    // (src, dst) of each overmap, for the ground-truth line.
    let mut replaced = [(0u64, 0u64); 10];
    // (src, dst, flags): a mix of correct maps and overmaps.
    let plan: [(u64, u64, u64); 10] = [
        (A, X, 0),
        (B, Y, 0),
        (A, X, 0),                     // overmap: X holds A's copy
        (B, Y, map_flags::NO_OVERMAP), // refused (EBUSY): the careful way
        (A, Z, 0),
        (B, X, 0),                     // overmap
        (A, Y, map_flags::NO_OVERMAP), // refused
        (B, Z, 0),                     // overmap
        (A, 23, 0),
        (B, 24, 0),
    ];
    for (src, dst, flags) in plan {
        let r = sys::map(src, SELF_TASK, dst, rights::ALL, flags);
        let was = occupied[dst as usize];
        match (was, flags & map_flags::NO_OVERMAP != 0, r) {
            (true, true, Err(Error::Busy)) => {}
            (true, false, Ok(1)) => {
                replaced[overmaps as usize] = (src, dst);
                maps += 1;
                overmaps += 1;
            }
            (false, _, Ok(0)) => {
                maps += 1;
                occupied[dst as usize] = true;
            }
            (_, _, other) => {
                println!("overmap: map {src}->{dst} flags {flags}: unexpected {other:?}");
                return 1;
            }
        }
    }
    for slot in [A, B, X, Y, Z, 23, 24] {
        check("delete", sys::delete(slot));
    }
    // The ground truth names each overmap's slots, so a checker's report
    // can be compared overmap by overmap.
    let mut line = capscope_user_rt::console::Console::new();
    let _ = write!(line, "overmap: {overmaps} overmaps among {maps} maps (");
    for (i, (src, dst)) in replaced[..overmaps as usize].iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(line, "{sep}slot {src} onto {dst}");
    }
    let _ = writeln!(line, ")");
    0
}

capscope_user_rt::entry!(main);
