//! Serving requests: the control channel's state and one handler per
//! request.
//!
//! Every handler either fails with a [`ControlError`] and changes nothing,
//! or does what was asked. Objects are named by id; a detached object is
//! *parked* here (kernel-hooks' `Detached`: its programs cannot run, its
//! `END` programs ran, its maps hold their final contents) so the host can
//! drain and read it after the detach returned, then release it. At most
//! [`MAX_PARKED`] objects stay parked: a host that never releases cannot
//! exhaust the heap (the oldest is released first).

use alloc::collections::VecDeque;
use alloc::string::ToString;

use capscope_bytecode::object::ProbeObject;
use capscope_control::msg::{MAX_DRAIN_BYTES, MAX_PAGE_ENTRIES};
use capscope_control::{
    ControlError, EVENT_SEQ, Event, KernelInfo, Listing, LoadTiming, Loaded, Reply, Request, Stop,
    ToHost,
};
use capscope_kernel_hooks::{
    self as hooks, Detached, HostError, JitEngine, JitOptions, LoadError, LoadedObject, ObjectId,
};

use super::codemem::KernelCodeMemory;
use super::link::{self, Incoming, Link};
use crate::dev::serial::COM2;
use crate::sync::Global;
use crate::time::now_ns;

/// Most detached objects kept for the host to read.
pub const MAX_PARKED: usize = 64;

/// The channel's state.
struct Server {
    link: Link,
    /// The rendezvous the kernel waits at, if any.
    stopped: Option<Stop>,
    /// Set by `Continue` to end the rendezvous loop.
    continued: bool,
    /// Detached objects not yet released, oldest first.
    parked: VecDeque<Detached>,
}

static SERVER: Global<Option<Server>> = Global::new(None);

/// Run `f` on the server, creating it on first use.
fn with_server<R>(f: impl FnOnce(&mut Server) -> R) -> R {
    let mut s = SERVER.lock();
    let server = s.get_or_insert_with(|| Server {
        link: Link::new(),
        stopped: None,
        continued: false,
        parked: VecDeque::new(),
    });
    f(server)
}

/// Stop at `stop`: announce it, then serve requests (polling the UART,
/// interrupts off) until the host says continue.
pub fn rendezvous(stop: Stop) {
    with_server(|s| {
        s.stopped = Some(stop.clone());
        s.continued = false;
    });
    link::send(EVENT_SEQ, &ToHost::Event(Event::Stopped(stop)));
    loop {
        let done = with_server(|s| {
            // Bytes after the `Continue` stay queued for `poll`.
            while !s.continued {
                match COM2.read_byte() {
                    Some(b) => s.feed(b),
                    None => break,
                }
            }
            s.continued
        });
        if done {
            break;
        }
        core::hint::spin_loop();
    }
    with_server(|s| s.stopped = None);
}

/// Handle every byte that arrived (outside a rendezvous).
pub fn poll() {
    with_server(|s| {
        while let Some(b) = COM2.read_byte() {
            s.feed(b);
        }
    });
}

impl Server {
    fn feed(&mut self, byte: u8) {
        let Some(incoming) = self.link.feed(byte) else {
            return;
        };
        match incoming {
            Incoming::Request {
                seq,
                req,
                receive_ns,
            } => {
                let (reply, event) = self.handle(req, receive_ns);
                link::send(seq, &ToHost::Reply(reply));
                if let Some(e) = event {
                    link::send(EVENT_SEQ, &ToHost::Event(e));
                }
            }
            Incoming::Malformed { seq } => {
                link::send(seq, &ToHost::Reply(Err(ControlError::Malformed)))
            }
            Incoming::Version { seq, got } => link::send(
                seq,
                &ToHost::Reply(Err(ControlError::Version {
                    got,
                    supported: link::VERSION,
                })),
            ),
            Incoming::Bad(e) => link::send(EVENT_SEQ, &ToHost::Event(Event::BadFrame(e))),
        }
    }

    /// One request: the reply, and an event to announce after it.
    fn handle(
        &mut self,
        req: Request,
        receive_ns: u64,
    ) -> (Result<Reply, ControlError>, Option<Event>) {
        let reply = match req {
            Request::Hello { version } if version != link::VERSION => Err(ControlError::Version {
                got: version,
                supported: link::VERSION,
            }),
            Request::Hello { .. } => Ok(Reply::Hello(self.info())),
            Request::Load { object } => load(&object, receive_ns)
                .map(Reply::Loaded)
                .map_err(ControlError::Load),
            Request::Detach { id } => {
                return match hooks::detach(id) {
                    Ok(d) => {
                        if self.parked.len() >= MAX_PARKED {
                            self.parked.pop_front();
                        }
                        self.parked.push_back(d);
                        (Ok(Reply::Detached { id }), Some(Event::Detached { id }))
                    }
                    Err(e) => (Err(e.into()), None),
                };
            }
            Request::Release { id } => match self.parked.iter().position(|d| d.id() == id) {
                Some(i) => {
                    // Dropping it frees its maps and code.
                    self.parked.remove(i);
                    Ok(Reply::Done)
                }
                None if hooks::object(id).is_ok() => Err(ControlError::NotParked(id)),
                None => Err(HostError::NoSuchObject(id).into()),
            },
            Request::List => Ok(Reply::Listing(Listing {
                objects: hooks::list(),
                parked: self.parked.iter().map(|d| d.info()).collect(),
                status: hooks::status(),
            })),
            Request::ReadMap {
                id,
                map,
                cursor,
                max_entries,
            } => self
                .with_object(id, |o| {
                    o.read_map(map, cursor, max_entries.clamp(1, MAX_PAGE_ENTRIES) as usize)
                })
                .map(Reply::Map),
            Request::ClearMap { id, map } => self
                .with_object(id, |o| o.map(map).map(|m| m.clear()))
                .map(|()| Reply::Done),
            Request::ZeroMap { id, map } => self
                .with_object(id, |o| o.map(map).map(|m| m.zero()))
                .map(|()| Reply::Done),
            Request::DeleteKey { id, map, key } => self
                .with_object(id, |o| o.map(map)?.delete_key(&key))
                .map(|()| Reply::Done),
            Request::Drain { id, map, max_bytes } => self
                .with_object(id, |o| {
                    o.drain_ringbuf(map, max_bytes.clamp(1, MAX_DRAIN_BYTES) as usize)
                })
                .map(Reply::Drained),
            Request::Continue if self.stopped.is_some() => {
                self.continued = true;
                Ok(Reply::Done)
            }
            Request::Continue => Err(ControlError::NotStopped),
        };
        (reply, None)
    }

    /// Run `f` on object `id`, attached or parked.
    fn with_object<R>(
        &self,
        id: ObjectId,
        f: impl FnOnce(&LoadedObject) -> Result<R, HostError>,
    ) -> Result<R, ControlError> {
        if let Some(d) = self.parked.iter().find(|d| d.id() == id) {
            return f(d).map_err(Into::into);
        }
        let obj = hooks::object(id)?;
        f(&obj).map_err(Into::into)
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            version: link::VERSION,
            workload: crate::bootinfo::arg("workload").unwrap_or("").into(),
            stopped: self.stopped.clone(),
            serving: super::serving(),
            cpus: 1,
            uptime_ns: now_ns(),
        }
    }
}

/// The in-kernel load pipeline: decode, then verify, JIT-compile and
/// attach every program (kernel-hooks' loader with the kernel's engine),
/// timing each step.
fn load(bytes: &[u8], receive_ns: u64) -> Result<Loaded, LoadError> {
    let t0 = now_ns();
    let obj = ProbeObject::from_bytes(bytes).map_err(|e| LoadError::Object {
        message: e.to_string(),
    })?;
    let t1 = now_ns();
    let mut mem = KernelCodeMemory;
    let mut engine = JitEngine::new(&JitOptions::default(), &mut mem)?;
    let t2 = now_ns();
    let id = hooks::load_object(&obj, &mut engine)?;
    let t3 = now_ns();
    let (verify_ns, jit_ns) = (engine.verify_ns(), engine.jit_ns());
    Ok(Loaded {
        id,
        programs: obj.programs.len() as u32,
        timing: LoadTiming {
            receive_ns,
            decode_ns: t1.saturating_sub(t0),
            verify_ns,
            jit_ns: jit_ns + t2.saturating_sub(t1),
            attach_ns: t3.saturating_sub(t2).saturating_sub(verify_ns + jit_ns),
        },
    })
}
