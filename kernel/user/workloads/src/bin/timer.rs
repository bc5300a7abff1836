//! `timer`: waits across many timer ticks (an Irq object on line 0) and
//! sleeps, so interrupt probes have work.
#![no_std]
#![no_main]

use capscope_user_rt::consts::kind;
use capscope_user_rt::{println, sys};
use capscope_workloads::{FACTORY, check};

const IRQ: u64 = 10;
const TICKS: u64 = 50;
const SLEEP_NS: u64 = 20_000_000;

fn main() -> u64 {
    check("irq", sys::create(FACTORY, kind::IRQ, IRQ, 0));
    let mut ticks = 0;
    while ticks < TICKS {
        ticks += check("irq_wait", sys::irq_wait(IRQ));
    }
    let t0 = sys::clock();
    check("sleep", sys::sleep(SLEEP_NS));
    let slept = sys::clock() - t0;
    check("delete", sys::delete(IRQ));
    if slept < SLEEP_NS {
        println!("timer: slept only {slept} ns");
        return 1;
    }
    println!(
        "timer: waited for {ticks} timer ticks, slept {} ms",
        slept / 1_000_000
    );
    0
}

capscope_user_rt::entry!(main);
