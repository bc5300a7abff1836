//! Sessions with a running kernel over its control channel.
//!
//! - [`client`]: one connection: the handshake, requests matched to their
//!   replies by sequence number, events queued, time-outs with a clear
//!   error.
//! - [`probe`]: one loaded probe object: load, carry out its ring-buffer
//!   records as they arrive, read its maps, detach with its final output.
//! - [`broker`]: QEMU's socket takes one client; the broker owns it and
//!   serves any number of clients on another socket (`capscope boot
//!   --control`), remapping sequence numbers and routing replies.
//! - [`render`]: the kernel's load errors rendered on the user's script.
//!
//! [`stream`] is the loop `run` and `attach` share: poll-drain the ring
//! buffers, watch for events, stop on `exit()`, Ctrl-C, the workload's
//! end or a detach from elsewhere.

pub mod broker;
pub mod client;
pub mod probe;
pub mod render;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use capscope_control::{Event, Stop};

pub use client::{Client, SessionError};
pub use probe::{LoadFailure, Probe};

use crate::output::Printer;

/// How often a session drains the ring buffers while nothing else happens.
pub const POLL: Duration = Duration::from_millis(50);

/// Set by Ctrl-C (SIGINT), and by SIGTERM and SIGHUP (`kill`, a closed
/// terminal), once [`interrupt_flag`] installed the handler: each ends a
/// session the same way, so `capscope boot` never leaves its QEMU behind.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // If a handler is already installed (cannot happen in this binary)
        // Ctrl-C keeps its default meaning: QEMU is still killed on drop.
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}

/// Why a session's stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// A probe called `exit()`.
    Exit,
    /// Ctrl-C.
    Interrupted,
    /// The workload finished (the kernel waits at its finished rendezvous).
    Finished(u64),
    /// Another session detached the object (`capscope detach`).
    DetachedElsewhere,
    /// `gone` reported that the kernel stopped (QEMU exited).
    KernelGone,
}

/// Print the probe's output as it arrives until something ends the
/// session. `gone` is asked between polls whether the kernel is gone.
/// With `until_finished`, the workload's end (the finished stop) ends the
/// session too (`run`); an attach session outlives the workload.
pub fn stream(
    client: &mut Client,
    probe: &mut Probe,
    p: &mut Printer<'_>,
    until_finished: bool,
    mut gone: impl FnMut() -> bool,
) -> anyhow::Result<End> {
    let interrupted = interrupt_flag();
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Ok(End::Interrupted);
        }
        if probe.pump(client, p)? {
            return Ok(End::Exit);
        }
        match client.next_event(POLL) {
            Ok(Some(Event::Stopped(Stop::Finished { status }))) if until_finished => {
                return Ok(End::Finished(status));
            }
            Ok(Some(Event::Detached { id })) if id == probe.id() => {
                return Ok(End::DetachedElsewhere);
            }
            Ok(_) => {}
            Err(SessionError::Closed) => return Ok(End::KernelGone),
            Err(e) => return Err(e.into()),
        }
        if gone() {
            return Ok(End::KernelGone);
        }
    }
}
