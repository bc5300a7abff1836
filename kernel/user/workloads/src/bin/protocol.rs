//! `protocol`: calls a gate with the wrong protocol label M times among
//! correct calls. A server thread in the same task answers correct calls;
//! wrong-label calls must fail with EPROTO and never reach it.
#![no_std]
#![no_main]

use capscope_user_rt::consts::{kind, rights};
use capscope_user_rt::{Error, println, sys};
use capscope_workloads::{FACTORY, SELF_TASK, check};

const LABEL: u64 = 0x5052_4f54; // "PROT"
const GATE: u64 = 10;
const THREAD: u64 = 11;
const STACK_MEM: u64 = 12;
const STACK_BASE: u64 = 0x2000_0000_0000;
const STACK_SIZE: u64 = 64 << 10;
const QUIT: u8 = 0xff;

extern "C" fn server(gate: u64) -> ! {
    let mut buf = [0u8; 16];
    loop {
        match sys::recv(gate, &mut buf) {
            Ok(_) if buf[0] == QUIT => {
                let _ = sys::reply(&buf[..1]);
                // Done; park until the task exits.
                loop {
                    let _ = sys::sleep(u64::MAX);
                }
            }
            Ok(n) => {
                buf[0] = buf[0].wrapping_add(1);
                let _ = sys::reply(&buf[..n as usize]);
            }
            Err(e) => {
                println!("protocol server: recv failed: {e:?}");
                sys::exit(2);
            }
        }
    }
}

fn main() -> u64 {
    check("gate", sys::create(FACTORY, kind::GATE, GATE, LABEL));
    check(
        "stack",
        sys::create(FACTORY, kind::MEMORY, STACK_MEM, STACK_SIZE),
    );
    check(
        "attach",
        sys::attach(STACK_MEM, STACK_BASE, rights::READ | rights::WRITE),
    );
    check(
        "thread",
        sys::create(FACTORY, kind::THREAD, THREAD, SELF_TASK),
    );
    check(
        "start",
        sys::thread_start(THREAD, server, STACK_BASE + STACK_SIZE, GATE),
    );
    // Let the server reach `recv`, which binds it to the gate; until then
    // a call would find nobody serving (ENOTCONN).
    check("yield", sys::yield_cpu());
    let (mut calls, mut mismatched) = (0u64, 0u64);
    for i in 0..12u8 {
        let wrong = i % 3 == 2;
        let label = if wrong { LABEL ^ 0x20 } else { LABEL };
        let mut msg = [i, 0, 0, 0];
        let r = sys::call_gate(GATE, label, &mut msg, 4);
        calls += 1;
        match (wrong, r) {
            (true, Err(Error::Proto)) => mismatched += 1,
            (false, Ok(4)) if msg[0] == i + 1 => {}
            (_, other) => {
                println!("protocol: call {i} (wrong label: {wrong}): unexpected {other:?}");
                return 1;
            }
        }
    }
    let mut quit = [QUIT];
    check("quit", sys::call_gate(GATE, LABEL, &mut quit, 1));
    for slot in [GATE, THREAD, STACK_MEM] {
        check("delete", sys::delete(slot));
    }
    println!("protocol: {mismatched} mismatched calls among {calls} calls");
    0
}

capscope_user_rt::entry!(main);
