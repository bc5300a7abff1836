//! The control channel (COM2): how the host loads probes and reads their
//! maps, and the two rendezvous points of a workload run.
//!
//! `docs/control.md` has the protocol. The kernel side:
//!
//! - **Framing and decoding** (`link`): bytes from COM2 (the receive
//!   interrupt fills a ring; the rendezvous loops poll the UART) go into
//!   a `capscope_control` frame decoder. Each complete frame is decoded as
//!   a request; anything malformed gets an error reply (or, if the frame
//!   itself is corrupt and its sequence number untrustworthy, a
//!   `BadFrame` event) and changes nothing.
//! - **Requests** (`serve`): hello, load (decode → verify → JIT → attach,
//!   timed), detach (the object is parked after `END` ran, until the host
//!   has read it and releases it), list, map pages, clear/zero/delete,
//!   ring-buffer drains, continue.
//! - **Where requests run.** Never in the interrupt handler itself: the
//!   COM2 handler only queues bytes. Requests are handled after an
//!   interrupt from user mode or the idle loop has been fully dealt with
//!   ([`poll`], called by `trap_from_user` and `irq_from_idle`), at the
//!   top of the 1 MiB kernel stack — the verifier and Cranelift need
//!   tens of KiB (hundreds in a debug build), which an IST stack
//!   (32 KiB) could not give. The interrupted thread's state is already
//!   saved, so a request only delays it: workloads see nothing but time.
//! - **Rendezvous.** With `control` on the command line the kernel stops
//!   twice and serves requests (polling, interrupts off) until the host
//!   sends `Continue`: *ready*, after boot and before the workload's first
//!   instruction, so probes see the whole run; *finished*, when the main
//!   task has exited but before its capability space is torn down, so
//!   maps can be read while leaked capabilities still exist. Each stop is
//!   announced with an event, and `Hello` reports it too (a host that
//!   connects late still learns it).
//! - **After the workload**: `control` (or `control=run`) ends the run
//!   after the finished rendezvous, as without the channel;
//!   `control=serve` keeps the kernel running and serving (`capscope
//!   boot --control`).
//!
//! Loading is possible only through this channel: no system call loads,
//! detaches or reads probes, so ring 3 cannot. A capability that grants a
//! task that right is future work (docs/control.md).

#[cfg(feature = "hooks")]
mod codemem;
#[cfg(feature = "hooks")]
mod link;
#[cfg(feature = "hooks")]
mod serve;

use core::sync::atomic::{AtomicU8, Ordering};

use crate::bootinfo;
#[cfg(feature = "hooks")]
use crate::dev::serial::COM2;

const OFF: u8 = 0;
const RUN: u8 = 1;
const SERVE: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(OFF);

/// Bring the channel up if the command line asks for it (`control`,
/// `control=run` or `control=serve`) and a second UART is there.
pub fn init() {
    let mode = match (bootinfo::flag("control"), bootinfo::arg("control")) {
        (true, _) | (_, Some("run")) => RUN,
        (_, Some("serve")) => SERVE,
        (_, Some(other)) => {
            crate::kprintln!(
                "capscope: control={other} is not `run` or `serve`; no control channel"
            );
            OFF
        }
        (false, None) => OFF,
    };
    if mode == OFF {
        return;
    }
    #[cfg(feature = "hooks")]
    if COM2.present() {
        COM2.init();
        MODE.store(mode, Ordering::Relaxed);
    } else {
        crate::kprintln!("capscope: control asked for, but there is no second serial port");
    }
    #[cfg(not(feature = "hooks"))]
    crate::kprintln!(
        "capscope: this kernel has no probe support (built without `hooks`): no control channel"
    );
}

/// True if a control channel is configured.
pub fn enabled() -> bool {
    MODE.load(Ordering::Relaxed) != OFF
}

/// True if the kernel keeps running and serving after the workload ends.
pub fn serving() -> bool {
    MODE.load(Ordering::Relaxed) == SERVE
}

/// The workload is about to start: the *ready* rendezvous.
pub fn workload_ready(name: &'static str) {
    #[cfg(feature = "hooks")]
    if enabled() {
        serve::rendezvous(capscope_control::Stop::Ready {
            workload: name.into(),
        });
    }
    let _ = name;
}

/// The workload's main task exited with `status`; teardown follows: the
/// *finished* rendezvous.
pub fn workload_finished(status: u64) {
    #[cfg(feature = "hooks")]
    if enabled() {
        serve::rendezvous(capscope_control::Stop::Finished { status });
    }
    let _ = status;
}

/// Handle whatever arrived on the channel. Called after each interrupt
/// from user mode or the idle loop, on the kernel stack, with nothing of
/// the kernel's state borrowed.
pub fn poll() {
    #[cfg(feature = "hooks")]
    if enabled() {
        serve::poll();
    }
}
