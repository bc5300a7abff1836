//! `pingpong`: two tasks, N IPC round trips through a gate; prints the
//! cycles per round trip.
#![no_std]
#![no_main]

use capscope_user_rt::consts::{kind, rights};
use capscope_user_rt::{println, rdtsc, sys};
use capscope_workloads::{FACTORY, SELF_TASK, check};

const LABEL: u64 = 0x504f_4e47; // "PONG"
const CHILD: u64 = 10;
const GATE: u64 = 11;
/// Where the child finds the gate.
const CHILD_GATE: u64 = 3;
const N: u64 = 1000;
const QUIT: u8 = 0xff;

extern "C" fn child(gate: u64) -> ! {
    let mut buf = [0u8; 8];
    loop {
        match sys::recv(gate, &mut buf) {
            Ok(n) => {
                let _ = sys::reply(&buf[..n as usize]);
                if buf[0] == QUIT {
                    sys::exit(0);
                }
            }
            Err(_) => sys::exit(3),
        }
    }
}

fn main() -> u64 {
    check("task", sys::create(FACTORY, kind::TASK, CHILD, 0));
    check("gate", sys::create(FACTORY, kind::GATE, GATE, LABEL));
    check(
        "map gate",
        sys::map(GATE, CHILD, CHILD_GATE, rights::READ, 0),
    );
    check("start child", sys::task_start(CHILD, child, 0, CHILD_GATE));
    // Let the child reach `recv` (which binds it as the gate's server).
    check("yield", sys::yield_cpu());
    let mut msg = [1u8; 8];
    for _ in 0..10 {
        check("warm-up call", sys::call_gate(GATE, LABEL, &mut msg, 8));
    }
    let t0 = rdtsc();
    for i in 0..N {
        msg[0] = i as u8 & 0x7f;
        check("call", sys::call_gate(GATE, LABEL, &mut msg, 8));
    }
    let cycles = (rdtsc() - t0) / N;
    let mut quit = [QUIT];
    check("quit", sys::call_gate(GATE, LABEL, &mut quit, 1));
    let status = check("wait", sys::wait_task(CHILD));
    check("delete gate", sys::delete(GATE));
    check("delete task", sys::delete(CHILD));
    if status != 0 {
        println!("pingpong: child exited with {status}");
        return 1;
    }
    println!("pingpong: {N} round trips, {cycles} cycles per round trip");
    let _ = SELF_TASK;
    0
}

capscope_user_rt::entry!(main);
