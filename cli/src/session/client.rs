//! A connection to the kernel's control channel (or to a broker serving
//! it): requests with sequence numbers, replies matched to them, events
//! queued, and clean time-outs.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use capscope_control::frame::{Decoder, Frame};
use capscope_control::{
    ControlError, EVENT_SEQ, Event, KernelInfo, PROTOCOL_VERSION, Reply, Request, ToHost,
};

/// How long a request waits for its reply unless told otherwise. Loads
/// compile under emulation, so they get [`LOAD_TIMEOUT`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a load waits: verification and Cranelift under TCG take tens
/// of milliseconds for a one-liner, seconds for a large script.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong talking to the kernel.
#[derive(Debug)]
pub enum SessionError {
    /// The socket could not be reached or written.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        error: io::Error,
    },
    /// No reply (or connection) within the time allowed.
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// The kernel (or broker) closed the channel.
    Closed,
    /// The kernel answered with an error.
    Kernel(ControlError),
    /// The kernel's answer made no sense for the request.
    Protocol(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Io { what, error } => write!(f, "{what}: {error}"),
            SessionError::Timeout { what, after } => write!(
                f,
                "no answer from the kernel to {what} within {:.1} s (is it running and serving the control channel?)",
                after.as_secs_f64()
            ),
            SessionError::Closed => write!(
                f,
                "the control channel was closed (the kernel or broker exited)"
            ),
            SessionError::Kernel(e) => write!(f, "the kernel refused: {e}"),
            SessionError::Protocol(m) => write!(f, "unexpected answer from the kernel: {m}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// Result alias.
pub type Result<T> = std::result::Result<T, SessionError>;

/// What a reader thread passes on.
pub(crate) enum Incoming {
    /// A good frame.
    Frame(Frame),
    /// The stream ended.
    Closed,
}

/// A connection to the control channel.
pub struct Client {
    stream: UnixStream,
    rx: Receiver<Incoming>,
    next_seq: u32,
    events: VecDeque<Event>,
    closed: bool,
    flushed: bool,
    _reader: JoinHandle<()>,
}

impl Client {
    /// Connect to the socket at `path`, retrying until `within` has passed
    /// (QEMU creates its socket a moment after it starts).
    pub fn connect(path: &Path, within: Duration) -> Result<Client> {
        Client::from_stream(connect_stream(path, within)?)
    }

    /// Use a connected stream.
    pub fn from_stream(stream: UnixStream) -> Result<Client> {
        let read = stream.try_clone().map_err(|error| SessionError::Io {
            what: "cloning the control socket".into(),
            error,
        })?;
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || read_frames(read, |f| tx.send(f).is_ok()));
        Ok(Client {
            stream,
            rx,
            next_seq: 1,
            events: VecDeque::new(),
            closed: false,
            flushed: false,
            _reader: reader,
        })
    }

    /// The handshake: check the kernel speaks this protocol version and
    /// learn its state.
    pub fn hello(&mut self) -> Result<KernelInfo> {
        match self.request(&Request::hello())? {
            Reply::Hello(info) if info.version == PROTOCOL_VERSION => Ok(info),
            Reply::Hello(info) => Err(SessionError::Kernel(ControlError::Version {
                got: PROTOCOL_VERSION,
                supported: info.version,
            })),
            other => Err(unexpected("hello", &other)),
        }
    }

    /// Send `req` and wait for its reply ([`REQUEST_TIMEOUT`], or
    /// [`LOAD_TIMEOUT`] for loads). An error reply is
    /// [`SessionError::Kernel`].
    pub fn request(&mut self, req: &Request) -> Result<Reply> {
        let timeout = match req {
            Request::Load { .. } => LOAD_TIMEOUT,
            _ => REQUEST_TIMEOUT,
        };
        self.request_within(req, timeout)
    }

    /// Send `req` and wait at most `timeout` for its reply.
    pub fn request_within(&mut self, req: &Request, timeout: Duration) -> Result<Reply> {
        let seq = self.send(req)?;
        self.wait_reply(seq, timeout, &describe(req))?
            .map_err(SessionError::Kernel)
    }

    /// Send raw bytes (a test's hostile frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|error| SessionError::Io {
                what: "writing to the control socket".into(),
                error,
            })
    }

    /// Send `req` without waiting; returns its sequence number.
    pub fn send(&mut self, req: &Request) -> Result<u32> {
        let seq = self.next_seq;
        // Sequence number 0 belongs to events.
        self.next_seq = self.next_seq.wrapping_add(1).max(EVENT_SEQ + 1);
        let mut bytes = Vec::new();
        if !self.flushed {
            // A leading delimiter ends whatever half frame an earlier
            // client may have left in the kernel's decoder.
            bytes.push(0);
            self.flushed = true;
        }
        bytes.extend_from_slice(&req.to_frame(seq));
        self.send_raw(&bytes)?;
        Ok(seq)
    }

    /// Wait for the reply with sequence number `seq`, queueing events.
    pub fn wait_reply(
        &mut self,
        seq: u32,
        timeout: Duration,
        what: &str,
    ) -> Result<std::result::Result<Reply, ControlError>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_message(deadline, what, timeout)? {
                (s, ToHost::Reply(r)) if s == seq => return Ok(r),
                // A reply to a request this client gave up on.
                (_, ToHost::Reply(_)) => {}
                (_, ToHost::Event(e)) => self.events.push_back(e),
            }
        }
    }

    /// The next event, waiting at most `wait` (zero: only what arrived).
    pub fn next_event(&mut self, wait: Duration) -> Result<Option<Event>> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.next_message(deadline, "an event", wait) {
                Ok((_, ToHost::Event(e))) => return Ok(Some(e)),
                Ok((_, ToHost::Reply(_))) => {}
                Err(SessionError::Timeout { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next decodable message before `deadline`.
    fn next_message(
        &mut self,
        deadline: Instant,
        what: &str,
        timeout: Duration,
    ) -> Result<(u32, ToHost)> {
        loop {
            if self.closed {
                return Err(SessionError::Closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Incoming::Frame(f)) => {
                    // A body this side cannot decode (a newer kernel's
                    // message) is skipped; its request times out.
                    if let Ok(m) = ToHost::from_body(&f.body) {
                        return Ok((f.seq, m));
                    }
                }
                Ok(Incoming::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    self.closed = true;
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(SessionError::Timeout {
                        what: what.to_string(),
                        after: timeout,
                    });
                }
            }
        }
    }
}

impl Drop for Client {
    /// Close the connection (the reader thread holds a clone of the
    /// socket, which would otherwise keep it open), so the broker or the
    /// kernel sees this session end.
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Read frames from `stream` until it closes, handing each to `deliver`
/// (which returns false to stop). Corrupt frames are dropped: a reply
/// lost that way times out.
pub(crate) fn read_frames(mut stream: UnixStream, mut deliver: impl FnMut(Incoming) -> bool) {
    let mut decoder = Decoder::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if let Some(Ok(f)) = decoder.push(b)
                && !deliver(Incoming::Frame(f))
            {
                return;
            }
        }
    }
    deliver(Incoming::Closed);
}

/// Connect to the Unix socket at `path`, retrying until `within` has
/// passed (QEMU creates its socket a moment after it starts).
pub fn connect_stream(path: &Path, within: Duration) -> Result<UnixStream> {
    let start = Instant::now();
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(_) if start.elapsed() < within => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => {
                return Err(SessionError::Io {
                    what: format!("connecting to the control socket {}", path.display()),
                    error,
                });
            }
        }
    }
}

fn describe(req: &Request) -> String {
    match req {
        Request::Hello { .. } => "the handshake".into(),
        Request::Load { .. } => "the load request".into(),
        Request::Detach { id } => format!("detaching object {}", id.0),
        Request::Release { id } => format!("releasing object {}", id.0),
        Request::List => "the listing request".into(),
        Request::ReadMap { id, map, .. } => format!("reading map {map} of object {}", id.0),
        Request::ClearMap { .. } | Request::ZeroMap { .. } | Request::DeleteKey { .. } => {
            "a map update".into()
        }
        Request::Drain { .. } => "draining a ring buffer".into(),
        Request::Continue => "the continue request".into(),
    }
}

pub(crate) fn unexpected(what: &str, reply: &Reply) -> SessionError {
    SessionError::Protocol(format!("{what} was answered with {reply:?}"))
}

/// A socket path in the temporary directory, unique to this process.
pub fn temp_socket(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("capscope-{tag}-{}.sock", std::process::id()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;

    #[test]
    fn a_silent_peer_times_out_with_a_clear_error_and_a_closed_one_is_reported() {
        let path = temp_socket("client-test");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let mut c = Client::connect(&path, Duration::from_secs(1)).unwrap();
        let (peer, _) = listener.accept().unwrap();
        let t = Instant::now();
        let e = c
            .request_within(&Request::List, Duration::from_millis(200))
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(matches!(e, SessionError::Timeout { .. }), "{e:?}");
        assert!(e.to_string().contains("the listing request"), "{e}");
        // A reply to another sequence number, an event, then the real reply.
        let mut w = peer.try_clone().unwrap();
        let seq = c.send(&Request::List).unwrap();
        let event = ToHost::Event(Event::Detached {
            id: capscope_kernel_hooks::ObjectId(3),
        });
        w.write_all(&ToHost::Reply(Ok(Reply::Done)).to_frame(seq + 100))
            .unwrap();
        w.write_all(&event.to_frame(EVENT_SEQ)).unwrap();
        w.write_all(&ToHost::Reply(Err(ControlError::NotStopped)).to_frame(seq))
            .unwrap();
        let r = c.wait_reply(seq, Duration::from_secs(2), "x").unwrap();
        assert_eq!(r, Err(ControlError::NotStopped));
        assert_eq!(
            c.next_event(Duration::ZERO).unwrap(),
            Some(Event::Detached {
                id: capscope_kernel_hooks::ObjectId(3)
            })
        );
        // The peer goes away: the next request says so instead of hanging.
        drop(w);
        drop(peer);
        let e = c.request(&Request::List).unwrap_err();
        assert!(
            matches!(e, SessionError::Closed | SessionError::Io { .. }),
            "{e:?}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
