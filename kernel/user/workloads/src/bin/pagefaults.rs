//! `pagefaults`: touches P fresh pages of a Memory object (demand paging),
//! then catches one invalid access through the fault-handler chain and
//! the exception table.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use capscope_user_rt::consts::{kind, rights};
use capscope_user_rt::fault::{self, Status};
use capscope_user_rt::uabi::FaultFrame;
use capscope_user_rt::{Error, println, sys};
use capscope_workloads::{FACTORY, check};

const P: u64 = 64;
const MEM: u64 = 10;
const BASE: u64 = 0x3000_0000_0000;
const BAD: u64 = 0xdead_0000;

static SEEN: AtomicU64 = AtomicU64::new(0);

/// First in the chain: counts faults at the bad address, then lets the
/// exception-table handler (at the tail) fix them.
fn observer(f: &mut FaultFrame) -> Status {
    if f.addr == BAD {
        SEEN.fetch_add(1, Ordering::Relaxed);
    }
    Status::Continue
}

fn main() -> u64 {
    check("memory", sys::create(FACTORY, kind::MEMORY, MEM, P * 4096));
    check(
        "attach",
        sys::attach(MEM, BASE, rights::READ | rights::WRITE),
    );
    for i in 0..P {
        // SAFETY: inside the attached, writable region.
        unsafe { core::ptr::write_volatile((BASE + i * 4096) as *mut u64, i * 7) };
    }
    for i in 0..P {
        // SAFETY: as above.
        let v = unsafe { core::ptr::read_volatile((BASE + i * 4096) as *const u64) };
        if v != i * 7 {
            println!("pagefaults: page {i} reads {v}");
            return 1;
        }
    }
    if fault::register_fault_handler(observer, false).is_err() {
        return 1;
    }
    let caught = match fault::probe_read(BAD) {
        Err(Error::Fault) if SEEN.load(Ordering::Relaxed) == 1 => "caught",
        other => {
            println!("pagefaults: probe_read gave {other:?}");
            return 1;
        }
    };
    let _ = fault::unregister_fault_handler(observer);
    check("detach", sys::detach(BASE));
    check("delete", sys::delete(MEM));
    println!("pagefaults: touched {P} pages, {caught} 1 invalid access at {BAD:#x}");
    0
}

capscope_user_rt::entry!(main);
