//! `timer`: shows preemption (a thread spinning without syscalls still
//! lets another run), then waits across many timer ticks (an Irq object on
//! line 0) and sleeps, so interrupt probes have work.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use capscope_user_rt::consts::{kind, rights};
use capscope_user_rt::{println, rdtsc, sys};
use capscope_workloads::{FACTORY, SELF_TASK, check};

const IRQ: u64 = 10;
const THREAD: u64 = 11;
const STACK_MEM: u64 = 12;
const STACK_BASE: u64 = 0x2000_0000_0000;
const STACK_SIZE: u64 = 16 << 10;
const TICKS: u64 = 50;
const SLEEP_NS: u64 = 20_000_000;
/// Give up on preemption after this many TSC cycles (far more than a
/// 10-tick time slice under any emulation).
const SPIN_LIMIT: u64 = 100_000_000_000;

static SPINS: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

/// Spins without a syscall until told to stop, then parks.
extern "C" fn spinner(_: u64) -> ! {
    while !STOP.load(Ordering::Relaxed) {
        SPINS.fetch_add(1, Ordering::Relaxed);
    }
    loop {
        let _ = sys::sleep(u64::MAX);
    }
}

fn main() -> u64 {
    check("stack", sys::create(FACTORY, kind::MEMORY, STACK_MEM, STACK_SIZE));
    check("attach", sys::attach(STACK_MEM, STACK_BASE, rights::READ | rights::WRITE));
    check("thread", sys::create(FACTORY, kind::THREAD, THREAD, SELF_TASK));
    check("start", sys::thread_start(THREAD, spinner, STACK_BASE + STACK_SIZE, 0));
    // Spin without a syscall: only a timer preemption lets the spinner run.
    let t0 = rdtsc();
    while SPINS.load(Ordering::Relaxed) == 0 {
        if rdtsc() - t0 > SPIN_LIMIT {
            println!("timer: the spinner never ran; no preemption");
            return 1;
        }
    }
    STOP.store(true, Ordering::Relaxed);

    check("irq", sys::create(FACTORY, kind::IRQ, IRQ, 0));
    let mut ticks = 0;
    while ticks < TICKS {
        ticks += check("irq_wait", sys::irq_wait(IRQ));
    }
    let t0 = sys::clock();
    check("sleep", sys::sleep(SLEEP_NS));
    let slept = sys::clock() - t0;
    for slot in [IRQ, THREAD, STACK_MEM] {
        check("delete", sys::delete(slot));
    }
    if slept < SLEEP_NS {
        println!("timer: slept only {slept} ns");
        return 1;
    }
    println!(
        "timer: waited for {ticks} timer ticks, slept {} ms, preempted a spinning thread",
        slept / 1_000_000
    );
    0
}

capscope_user_rt::entry!(main);
