//! The broker: one owner for QEMU's control socket, any number of clients.
//!
//! QEMU's socket character device accepts a single connection, yet several
//! `capscope attach`, `ps` and `detach` sessions may talk to one kernel,
//! one after another or at the same time. The broker (run by `capscope
//! boot --control PATH`) holds QEMU's socket and listens on PATH:
//!
//! - **Requests** from clients are checked frames; each is re-framed with a
//!   fresh kernel-side sequence number, remembered with its client and the
//!   client's own number. A frame a client corrupted never reaches the
//!   kernel (the client gets a `BadFrame` event); one of another protocol
//!   version is answered by the broker with the kernel's version error.
//! - **Replies** from the kernel go back to the client that asked, with the
//!   client's sequence number; replies to requests of a client that left
//!   are dropped. **Events** go to every client.
//! - **Ownership**: an object loaded by a client belongs to it. When the
//!   client disconnects (Ctrl-C, a crash), the broker detaches and
//!   releases what it left behind, so probes live as long as the session
//!   that loaded them, as with bpftrace.
//! - **Rendezvous**: the kernel runs with `control=serve`. The broker
//!   continues the *ready* stop at once, or with `hold` after the first
//!   load through it (so an attach session sees the workload from its
//!   first instruction), and continues the *finished* stop after passing
//!   the event on.
//!
//! One thread per connection reads frames into one channel; a single loop
//! owns all state, so there are no locks around the routing tables.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use capscope_control::frame::{self, Decoder, FrameError};
use capscope_control::{
    ControlError, EVENT_SEQ, Event, PROTOCOL_VERSION, Reply, Request, Stop, ToHost,
};
use capscope_kernel_hooks::ObjectId;

use super::client::Incoming;

/// How long a write to a client may block before the client is dropped
/// (one that stops reading must not stall everybody else).
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the broker treats the kernel's rendezvous points.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy {
    /// Hold the *ready* stop until the first object is loaded.
    pub hold: bool,
}

enum Msg {
    NewClient(u64, UnixStream),
    FromClient(u64, ClientInput),
    FromKernel(Incoming),
}

enum ClientInput {
    Frame(Result<frame::Frame, FrameError>),
    Closed,
}

/// Who is waiting for a kernel reply.
enum Waiter {
    Client {
        id: u64,
        seq: u32,
        load: bool,
    },
    /// The broker's own request (continue, cleanup): the reply is dropped.
    Broker,
}

struct ClientState {
    stream: UnixStream,
    owned: Vec<ObjectId>,
}

/// Serve `listen` for clients, forwarding to the kernel on `kernel`, until
/// the kernel's socket closes or `stop` is set. Returns why it ended.
pub fn serve(
    kernel: UnixStream,
    listen: &Path,
    policy: Policy,
    stop: &AtomicBool,
) -> io::Result<()> {
    let _ = std::fs::remove_file(listen);
    let listener = UnixListener::bind(listen)?;
    let (tx, rx) = mpsc::channel::<Msg>();

    let kread = kernel.try_clone()?;
    let ktx = tx.clone();
    std::thread::spawn(move || {
        super::client::read_frames(kread, |inc| ktx.send(Msg::FromKernel(inc)).is_ok())
    });
    // Clients are accepted on their own thread, so a new session waits
    // for nothing but the kernel.
    let atx = tx.clone();
    std::thread::spawn(move || {
        for (id, stream) in (1u64..).zip(listener.incoming()) {
            let Ok(stream) = stream else { continue };
            if spawn_client_reader(id, &stream, atx.clone()).is_err()
                || atx.send(Msg::NewClient(id, stream)).is_err()
            {
                return;
            }
        }
    });

    let mut b = Broker {
        kernel,
        clients: HashMap::new(),
        waiting: HashMap::new(),
        next_seq: 1,
        policy,
        ready_held: false,
        last_stop: None,
    };
    // The ready stop may have been announced before we connected: ask.
    b.send_kernel(Waiter::Broker, &Request::hello().to_body())?;

    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The time-out only bounds how late a stop request is noticed.
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::NewClient(id, stream)) => {
                stream.set_write_timeout(Some(CLIENT_WRITE_TIMEOUT))?;
                b.clients.insert(
                    id,
                    ClientState {
                        stream,
                        owned: Vec::new(),
                    },
                );
            }
            Ok(Msg::FromClient(id, ClientInput::Frame(f))) => b.on_client_frame(id, f)?,
            Ok(Msg::FromClient(id, ClientInput::Closed)) => b.client_left(id)?,
            Ok(Msg::FromKernel(Incoming::Frame(f))) => b.on_kernel_frame(f)?,
            Ok(Msg::FromKernel(Incoming::Closed)) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

fn spawn_client_reader(id: u64, stream: &UnixStream, tx: Sender<Msg>) -> io::Result<()> {
    let mut read = stream.try_clone()?;
    std::thread::spawn(move || {
        use std::io::Read;
        let mut decoder = Decoder::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            let n = match read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &byte in &buf[..n] {
                if let Some(f) = decoder.push(byte)
                    && tx.send(Msg::FromClient(id, ClientInput::Frame(f))).is_err()
                {
                    return;
                }
            }
        }
        let _ = tx.send(Msg::FromClient(id, ClientInput::Closed));
    });
    Ok(())
}

struct Broker {
    kernel: UnixStream,
    clients: HashMap<u64, ClientState>,
    waiting: HashMap<u32, Waiter>,
    next_seq: u32,
    policy: Policy,
    /// The ready stop is being held for the first load.
    ready_held: bool,
    /// The last stop answered: the kernel may report one stop twice (its
    /// event, and the hello reply), and one continue is enough.
    last_stop: Option<Stop>,
}

impl Broker {
    /// Send a request body to the kernel under a fresh sequence number.
    fn send_kernel(&mut self, waiter: Waiter, body: &[u8]) -> io::Result<()> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(EVENT_SEQ + 1);
        self.waiting.insert(seq, waiter);
        self.kernel.write_all(&frame::encode(seq, body))
    }

    fn send_client(&mut self, id: u64, seq: u32, msg: &ToHost) {
        let ok = self
            .clients
            .get_mut(&id)
            .is_some_and(|c| c.stream.write_all(&msg.to_frame(seq)).is_ok());
        if !ok {
            // Its reader thread reports the close; cleanup happens then.
            if let Some(c) = self.clients.get(&id) {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn on_client_frame(&mut self, id: u64, f: Result<frame::Frame, FrameError>) -> io::Result<()> {
        match f {
            Ok(f) => {
                let load = matches!(Request::from_body(&f.body), Ok(Request::Load { .. }));
                self.send_kernel(
                    Waiter::Client {
                        id,
                        seq: f.seq,
                        load,
                    },
                    &f.body,
                )
            }
            Err(FrameError::Version { version, seq }) => {
                let e = ControlError::Version {
                    got: version,
                    supported: PROTOCOL_VERSION,
                };
                self.send_client(id, seq, &ToHost::Reply(Err(e)));
                Ok(())
            }
            Err(e) => {
                self.send_client(id, EVENT_SEQ, &ToHost::Event(Event::BadFrame(e)));
                Ok(())
            }
        }
    }

    /// A client left: forget its pending replies, detach and release the
    /// objects it loaded.
    fn client_left(&mut self, id: u64) -> io::Result<()> {
        let Some(c) = self.clients.remove(&id) else {
            return Ok(());
        };
        self.waiting
            .retain(|_, w| !matches!(w, Waiter::Client { id: cid, .. } if *cid == id));
        for oid in c.owned {
            // Either may fail harmlessly: already detached, already released.
            self.send_kernel(Waiter::Broker, &Request::Detach { id: oid }.to_body())?;
            self.send_kernel(Waiter::Broker, &Request::Release { id: oid }.to_body())?;
        }
        Ok(())
    }

    fn on_kernel_frame(&mut self, f: frame::Frame) -> io::Result<()> {
        let Ok(msg) = ToHost::from_body(&f.body) else {
            return Ok(());
        };
        if f.seq == EVENT_SEQ {
            if let ToHost::Event(e) = &msg {
                self.on_event(e)?;
            }
            let ids: Vec<u64> = self.clients.keys().copied().collect();
            for id in ids {
                self.send_client(id, EVENT_SEQ, &msg);
            }
            return Ok(());
        }
        match self.waiting.remove(&f.seq) {
            Some(Waiter::Client { id, seq, load }) => {
                if let (true, ToHost::Reply(Ok(Reply::Loaded(l)))) = (load, &msg) {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.owned.push(l.id);
                    }
                    if self.ready_held {
                        self.ready_held = false;
                        self.send_kernel(Waiter::Broker, &Request::Continue.to_body())?;
                    }
                }
                self.send_client(id, seq, &msg);
            }
            Some(Waiter::Broker) => {
                // The answer to the broker's hello tells whether the kernel
                // already waits at a rendezvous.
                if let ToHost::Reply(Ok(Reply::Hello(info))) = &msg
                    && let Some(stop) = info.stopped.clone()
                {
                    self.on_event(&Event::Stopped(stop))?;
                }
            }
            None => {}
        }
        Ok(())
    }

    fn on_event(&mut self, e: &Event) -> io::Result<()> {
        if let Event::Stopped(stop) = e {
            if self.last_stop.as_ref() == Some(stop) {
                return Ok(());
            }
            self.last_stop = Some(stop.clone());
        }
        match e {
            Event::Stopped(Stop::Ready { .. }) if self.policy.hold => {
                self.ready_held = true;
                Ok(())
            }
            Event::Stopped(_) => self.send_kernel(Waiter::Broker, &Request::Continue.to_body()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::Receiver;
    use std::time::Duration;

    use capscope_control::{KernelInfo, LoadTiming, Loaded};

    use super::*;
    use crate::session::client::{Client, SessionError, temp_socket};

    /// A kernel stand-in: answers every request, reports each to the test.
    fn fake_kernel(stream: UnixStream) -> Receiver<Request> {
        let (tx, rx) = mpsc::channel();
        let mut out = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            crate::session::client::read_frames(stream, |inc| {
                let Incoming::Frame(f) = inc else {
                    return false;
                };
                let req = Request::from_body(&f.body).expect("the broker forwards requests");
                let reply = match &req {
                    Request::Hello { .. } => Reply::Hello(KernelInfo {
                        version: PROTOCOL_VERSION,
                        workload: "fake".into(),
                        stopped: Some(Stop::Ready {
                            workload: "fake".into(),
                        }),
                        serving: true,
                        cpus: 1,
                        uptime_ns: 0,
                    }),
                    Request::Load { object } => Reply::Loaded(Loaded {
                        id: ObjectId(object.len() as u32),
                        programs: 1,
                        timing: LoadTiming::default(),
                    }),
                    // Echo the id, so a test sees whose request this was.
                    Request::Detach { id } => Reply::Detached { id: *id },
                    _ => Reply::Done,
                };
                let _ = out.write_all(&ToHost::Reply(Ok(reply)).to_frame(f.seq));
                tx.send(req).is_ok()
            })
        });
        rx
    }

    #[track_caller]
    fn next(rx: &Receiver<Request>) -> Request {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("a request reached the kernel")
    }

    #[test]
    fn routes_replies_broadcasts_events_and_cleans_up_after_clients() {
        let (broker_end, kernel_end) = UnixStream::pair().unwrap();
        let mut kernel_out = kernel_end.try_clone().unwrap();
        let requests = fake_kernel(kernel_end);
        let listen = temp_socket("broker-test");
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (listen.clone(), stop.clone());
        let broker = std::thread::spawn(move || serve(broker_end, &l, Policy::default(), &s));

        // The broker asks where the kernel is and continues its ready stop.
        assert_eq!(next(&requests), Request::hello());
        assert_eq!(next(&requests), Request::Continue);

        let mut a = Client::connect(&listen, Duration::from_secs(5)).unwrap();
        let mut b = Client::connect(&listen, Duration::from_secs(5)).unwrap();
        // Both clients use sequence number 1: each gets its own answer.
        for (c, id) in [(&mut a, 100), (&mut b, 200)] {
            let reply = c.request(&Request::Detach { id: ObjectId(id) }).unwrap();
            assert_eq!(reply, Reply::Detached { id: ObjectId(id) });
            assert_eq!(next(&requests), Request::Detach { id: ObjectId(id) });
        }

        // Events reach every client.
        kernel_out
            .write_all(&ToHost::Event(Event::Detached { id: ObjectId(5) }).to_frame(EVENT_SEQ))
            .unwrap();
        for c in [&mut a, &mut b] {
            let e = c.next_event(Duration::from_secs(5)).unwrap();
            assert_eq!(e, Some(Event::Detached { id: ObjectId(5) }));
        }

        // A corrupt frame never reaches the kernel; its sender hears why.
        let mut bad = Request::List.to_frame(9);
        bad[2] ^= 0x40;
        a.send_raw(&bad).unwrap();
        let e = a.next_event(Duration::from_secs(5)).unwrap();
        assert!(matches!(e, Some(Event::BadFrame(_))), "{e:?}");

        // What a client loaded is detached and released when it leaves.
        let Reply::Loaded(l) = a.request(&Request::Load { object: vec![1; 7] }).unwrap() else {
            panic!("load")
        };
        assert_eq!(next(&requests), Request::Load { object: vec![1; 7] });
        drop(a);
        assert_eq!(next(&requests), Request::Detach { id: l.id });
        assert_eq!(next(&requests), Request::Release { id: l.id });
        // The other client is unaffected.
        assert_eq!(b.request(&Request::List).unwrap(), Reply::Done);
        assert_eq!(next(&requests), Request::List);

        // The kernel going away ends the broker; its clients see the close.
        drop(kernel_out);
        stop.store(true, Ordering::SeqCst);
        broker.join().unwrap().unwrap();
        assert!(matches!(
            b.request(&Request::List),
            Err(SessionError::Closed | SessionError::Io { .. } | SessionError::Timeout { .. })
        ));
        let _ = std::fs::remove_file(&listen);
    }
}
