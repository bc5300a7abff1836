//! `syscalls`: a null-syscall loop; prints cycles per call.
#![no_std]
#![no_main]

use capscope_user_rt::{println, rdtsc, sys};
use capscope_workloads::check;

const N: u64 = 10_000;
/// Calls before the timed loop, so it starts warm.
const WARMUP: u64 = 100;

fn main() -> u64 {
    for _ in 0..WARMUP {
        check("null", sys::null());
    }
    let t0 = rdtsc();
    for _ in 0..N {
        check("null", sys::null());
    }
    let cycles = (rdtsc() - t0) / N;
    // The total is the ground truth for syscall counters.
    println!(
        "syscalls: {N} null syscalls, {cycles} cycles per call; {} null syscalls in all",
        N + WARMUP
    );
    0
}

capscope_user_rt::entry!(main);
