//! Shared by the control-channel tests (`control.rs`, `sessions.rs`): a
//! kernel booted with its control channel on a socket, a raw protocol
//! client that can also send arbitrary bytes, and the `capscope` binary.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capscope_bytecode::object::ProbeObject;
use capscope_control::frame::Decoder;
use capscope_control::{ControlError, Event, Reply, Request, Stop, ToHost};
use capscope_tests::{Boot, Flavor, kernel, qemu, runner};

/// A socket path unique to this process and `tag`.
pub fn socket(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("capscope-test-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// A running kernel and its console so far.
pub struct Guest {
    pub running: runner::Running,
    console: Arc<Mutex<Vec<u8>>>,
}

impl Guest {
    /// Everything the kernel printed so far.
    pub fn console(&self) -> String {
        String::from_utf8_lossy(&self.console.lock().unwrap()).replace('\r', "")
    }

    /// Wait until the console contains `needle`.
    pub fn wait_console(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let c = self.console();
            if c.contains(needle) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the console:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Boot `workload` with the control channel on `sock` (`serve`: keep
/// running after the workload).
pub fn boot(workload: &str, sock: &Path, serve: bool) -> Guest {
    let mut b = Boot::new(workload);
    b.control = Some(sock.to_path_buf());
    b.serve = serve;
    b.timeout = Duration::from_secs(60);
    let console = Arc::new(Mutex::new(Vec::new()));
    let sink = console.clone();
    let cmd = b.command(&qemu(), &kernel(Flavor::Hooks));
    let running = runner::spawn(cmd, move |bytes| {
        sink.lock().unwrap().extend_from_slice(bytes)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    Guest { running, console }
}

/// A protocol client that also sends raw bytes.
pub struct Raw {
    stream: UnixStream,
    decoder: Decoder,
    pending: VecDeque<(u32, ToHost)>,
    pub events: Vec<Event>,
    next_seq: u32,
    /// The last stop taken: the kernel reports a stop both as an event and
    /// in the hello reply, so a stop is taken once.
    last_stop: Option<Stop>,
}

impl Raw {
    /// Connect (retrying while QEMU creates the socket).
    pub fn connect(sock: &Path) -> Raw {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(sock) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > Duration::from_secs(20) => panic!("no socket: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut r = Raw {
            stream,
            decoder: Decoder::new(),
            pending: VecDeque::new(),
            events: Vec::new(),
            next_seq: 1,
            last_stop: None,
        };
        r.send_bytes(&[0]);
        r
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.stream
            .write_all(b)
            .expect("write to the control socket");
    }

    /// A fresh sequence number (never 0, the events').
    pub fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub fn send(&mut self, req: &Request) -> u32 {
        let seq = self.seq();
        self.send_bytes(&req.to_frame(seq));
        seq
    }

    /// The next message, or None after `within`.
    pub fn recv(&mut self, within: Duration) -> Option<(u32, ToHost)> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => {
                    for &b in &buf[..n] {
                        if let Some(Ok(f)) = self.decoder.push(b) {
                            let m = ToHost::from_body(&f.body)
                                .expect("the kernel sends valid messages");
                            self.pending.push_back((f.seq, m));
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("reading the control socket: {e}"),
            }
        }
    }

    /// The reply to `seq`; events on the way are kept in `events`.
    pub fn reply(&mut self, seq: u32) -> Result<Reply, ControlError> {
        loop {
            match self.recv(Duration::from_secs(30)) {
                Some((s, ToHost::Reply(r))) if s == seq => return r,
                Some((s, ToHost::Reply(r))) => panic!("reply {r:?} to {s} while waiting for {seq}"),
                Some((_, ToHost::Event(e))) => self.events.push(e),
                None => panic!("no reply to request {seq} within 30 s"),
            }
        }
    }

    pub fn request(&mut self, req: &Request) -> Result<Reply, ControlError> {
        let seq = self.send(req);
        self.reply(seq)
    }

    /// The handshake, then the first stop (the kernel may still be
    /// booting, or already waiting): the hello reply.
    pub fn hello_at_stop(&mut self) -> capscope_control::KernelInfo {
        let Ok(Reply::Hello(mut info)) = self.request(&Request::hello()) else {
            panic!("hello")
        };
        match info.stopped.clone() {
            Some(s) => self.last_stop = Some(s),
            None => info.stopped = Some(self.wait_stop()),
        }
        info
    }

    /// A new stop among the events seen so far, if any.
    pub fn new_stop(&mut self) -> Option<Stop> {
        while let Some(i) = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Stopped(_)))
        {
            let Event::Stopped(s) = self.events.remove(i) else {
                unreachable!()
            };
            if self.last_stop.as_ref() != Some(&s) {
                self.last_stop = Some(s.clone());
                return Some(s);
            }
        }
        None
    }

    /// Wait for the next stop (or take one seen already) that was not
    /// taken before.
    pub fn wait_stop(&mut self) -> Stop {
        if let Some(s) = self.new_stop() {
            return s;
        }
        loop {
            match self.recv(Duration::from_secs(30)) {
                Some((_, ToHost::Event(Event::Stopped(s))))
                    if self.last_stop.as_ref() == Some(&s) => {}
                Some((_, ToHost::Event(Event::Stopped(s)))) => {
                    self.last_stop = Some(s.clone());
                    return s;
                }
                Some((_, ToHost::Event(e))) => self.events.push(e),
                Some(other) => panic!("unexpected {other:?} while waiting for a stop"),
                None => panic!("no stop within 30 s"),
            }
        }
    }
}

/// Compile a script (it must be valid).
pub fn compile(script: &str) -> ProbeObject {
    capscope_lang::compile(script)
        .unwrap_or_else(|e| panic!("{script}: {e:?}"))
        .object
}
