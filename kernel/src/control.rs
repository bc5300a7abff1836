//! The control channel's rendezvous points (COM2).
//!
//! With `control` on the command line (and a second serial port, e.g.
//! `-chardev socket,...,id=ctl -device isa-serial,chardev=ctl`), the
//! kernel stops twice and waits for the host:
//!
//! - **ready**: after boot, before the workload's first instruction, so a
//!   host can attach probes that see the whole run;
//! - **finished**: when the workload's main task has called `exit`, before
//!   its capability space is torn down, so a host can read maps while the
//!   leaked capabilities still exist (CapCheck's definition of a leak:
//!   allocated when the program ends).
//!
//! At each point the kernel sends one line, `CAPSCOPE READY <workload>` or
//! `CAPSCOPE FINISHED <status>`, and serves the channel until the host
//! sends the continue byte `c`. [`serve_until_continue`] is where the
//! control protocol of issue 8 plugs in: it will handle framed requests
//! (load, read maps, ...) in the same loop. Without `control` both points
//! cost nothing.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::bootinfo;
use crate::dev::serial::{COM2, Port};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The byte that ends a rendezvous.
pub const CONTINUE: u8 = b'c';

/// Bring the channel up if the command line asks for it.
pub fn init() {
    if bootinfo::flag("control") && COM2.present() {
        COM2.init();
        ENABLED.store(true, Ordering::Relaxed);
    }
}

/// True if a control channel is configured.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The workload is about to start.
pub fn workload_ready(name: &str) {
    if enabled() {
        announce(COM2, &["CAPSCOPE READY ", name]);
        serve_until_continue(COM2);
    }
}

/// The workload's main task exited with `status`; teardown follows.
pub fn workload_finished(status: u64) {
    if enabled() {
        let mut digits = [0u8; 20];
        announce(COM2, &["CAPSCOPE FINISHED ", fmt_u64(status, &mut digits)]);
        serve_until_continue(COM2);
    }
}

fn announce(port: Port, parts: &[&str]) {
    for p in parts {
        port.write_raw(p.as_bytes());
    }
    port.write_raw(b"\n");
}

/// Serve the channel (polling; the kernel runs with interrupts off) until
/// the host says continue.
pub fn serve_until_continue(port: Port) {
    loop {
        match port.read_byte() {
            Some(CONTINUE) => return,
            Some(_) => {}
            None => core::hint::spin_loop(),
        }
    }
}

fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[i..]).expect("ascii digits")
}
