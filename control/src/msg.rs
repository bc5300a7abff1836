//! The messages: what the host asks ([`Request`]) and what the kernel
//! sends back ([`ToHost`]: a reply to one request, or an event).
//!
//! Each message is the postcard body of one frame ([`crate::frame`]). A
//! reply carries the sequence number of its request in the frame header;
//! events carry sequence number [`EVENT_SEQ`] (0), which requests never
//! use. Payloads are kernel-hooks' own serde types (object listings, map
//! pages, drained records, load and host errors), so both ends agree on
//! them by construction.
//!
//! Decoding is strict: a body must decode completely, with no trailing
//! bytes, or it is [`DecodeError`]. An unknown request (a variant this
//! side does not know) fails the same way, so a newer host talking to an
//! older kernel gets [`ControlError::Malformed`], not a misread request.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use capscope_kernel_hooks::{Drained, HostError, LoadError, MapRead, ObjectId, ObjectInfo, Status};
use serde::{Deserialize, Serialize};

use crate::frame::{FrameError, PROTOCOL_VERSION};

/// The sequence number of kernel events (never used by a request).
pub const EVENT_SEQ: u32 = 0;

/// Most map entries one [`Request::ReadMap`] returns.
pub const MAX_PAGE_ENTRIES: u32 = 1024;

/// Most record bytes one [`Request::Drain`] returns.
pub const MAX_DRAIN_BYTES: u32 = 64 << 10;

/// What the host asks of the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The handshake: the host says which protocol version it speaks; the
    /// kernel answers with [`Reply::Hello`] (or [`ControlError::Version`]).
    Hello {
        /// The host's [`PROTOCOL_VERSION`].
        version: u8,
    },
    /// Decode, verify, JIT-compile and attach a serialized
    /// `capscope_bytecode::object::ProbeObject`.
    Load {
        /// `ProbeObject::to_bytes()`.
        object: Vec<u8>,
    },
    /// Detach an object: its programs stop, its `END` programs run, and it
    /// is *parked* with its final map contents until [`Request::Release`].
    Detach {
        /// The object.
        id: ObjectId,
    },
    /// Free a parked (detached) object.
    Release {
        /// The object.
        id: ObjectId,
    },
    /// Loaded and parked objects, with run counts, times and drops.
    List,
    /// A page of a map of a loaded or parked object.
    ReadMap {
        /// The object.
        id: ObjectId,
        /// The map's index in the object.
        map: u32,
        /// 0 to start, else the `next` of the previous page.
        cursor: u64,
        /// Entries wanted (at most [`MAX_PAGE_ENTRIES`]).
        max_entries: u32,
    },
    /// Delete every entry of a map (`clear(@map)`).
    ClearMap {
        /// The object.
        id: ObjectId,
        /// The map.
        map: u32,
    },
    /// Zero every value of a map, keeping its keys (`zero(@map)`).
    ZeroMap {
        /// The object.
        id: ObjectId,
        /// The map.
        map: u32,
    },
    /// Delete one key of a map.
    DeleteKey {
        /// The object.
        id: ObjectId,
        /// The map.
        map: u32,
        /// The key bytes.
        key: Vec<u8>,
    },
    /// Take records from a ring buffer, oldest first.
    Drain {
        /// The object.
        id: ObjectId,
        /// The ring buffer's map index.
        map: u32,
        /// About this many bytes (at most [`MAX_DRAIN_BYTES`]).
        max_bytes: u32,
    },
    /// End the current rendezvous ([`Stop`]): the workload starts (after
    /// `Ready`) or is torn down (after `Finished`).
    Continue,
}

/// Where the kernel is stopped, waiting for [`Request::Continue`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// Booted; the workload has not run an instruction yet.
    Ready {
        /// The workload's name.
        workload: String,
    },
    /// The workload's main task exited; its capability space is not torn
    /// down yet.
    Finished {
        /// Its exit status.
        status: u64,
    },
}

/// What [`Request::Hello`] learns about the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// The kernel's [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The workload it runs.
    pub workload: String,
    /// The rendezvous it waits at, if any.
    pub stopped: Option<Stop>,
    /// True if it keeps running and serving after the workload (booted
    /// with `control=serve`); false if it shuts down after `Finished`.
    pub serving: bool,
    /// CPUs (values per entry of per-CPU maps).
    pub cpus: u32,
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
}

/// Where the time of a load went, in the kernel (ns of its clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadTiming {
    /// From the request frame's first byte to its last.
    pub receive_ns: u64,
    /// Decoding the object bytes.
    pub decode_ns: u64,
    /// Verifying every program.
    pub verify_ns: u64,
    /// JIT-compiling every program (including setting up the compiler).
    pub jit_ns: u64,
    /// Everything else: creating maps, running `BEGIN`, publishing.
    pub attach_ns: u64,
}

impl LoadTiming {
    /// Time spent handling the request once it arrived.
    pub fn handling_ns(&self) -> u64 {
        self.decode_ns + self.verify_ns + self.jit_ns + self.attach_ns
    }
}

/// A successful load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    /// The new object's id.
    pub id: ObjectId,
    /// Programs attached (`BEGIN` and `END` included, as bpftrace counts).
    pub programs: u32,
    /// Where the time went.
    pub timing: LoadTiming,
}

/// Loaded and parked objects, and the machinery's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Attached objects, in load order.
    pub objects: Vec<ObjectInfo>,
    /// Detached objects waiting for [`Request::Release`].
    pub parked: Vec<ObjectInfo>,
    /// Memory, limits and missed events.
    pub status: Status,
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// To [`Request::Hello`].
    Hello(KernelInfo),
    /// To [`Request::Load`].
    Loaded(Loaded),
    /// To [`Request::Detach`]: `END` ran; the object is parked.
    Detached {
        /// The object.
        id: ObjectId,
    },
    /// To [`Request::List`].
    Listing(Listing),
    /// To [`Request::ReadMap`].
    Map(MapRead),
    /// To [`Request::Drain`].
    Drained(Drained),
    /// To requests that return nothing: release, clear, zero, delete,
    /// continue.
    Done,
}

/// Why a request failed. Nothing changed in the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlError {
    /// The frame's body is not a request this kernel knows (garbage,
    /// truncated, trailing bytes, or a newer host's request).
    Malformed,
    /// The frame claims another protocol version.
    Version {
        /// The version the frame claims.
        got: u8,
        /// The version this kernel speaks.
        supported: u8,
    },
    /// The load failed (a verifier rejection included).
    Load(LoadError),
    /// A request on a loaded object failed.
    Host(HostError),
    /// [`Request::Continue`] while the kernel is not at a rendezvous.
    NotStopped,
    /// [`Request::Release`] of an object that is not parked (detach first).
    NotParked(ObjectId),
    /// This kernel was built without probe support.
    NoProbes,
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Malformed => write!(f, "the kernel could not decode the request"),
            ControlError::Version { got, supported } => write!(
                f,
                "protocol version {got} is not supported (the kernel speaks {supported})"
            ),
            ControlError::Load(e) => write!(f, "{e}"),
            ControlError::Host(e) => write!(f, "{e}"),
            ControlError::NotStopped => write!(f, "the kernel is not waiting at a rendezvous"),
            ControlError::NotParked(id) => {
                write!(f, "probe object {} is not detached (detach it first)", id.0)
            }
            ControlError::NoProbes => write!(f, "this kernel was built without probe support"),
        }
    }
}

impl From<LoadError> for ControlError {
    fn from(e: LoadError) -> Self {
        ControlError::Load(e)
    }
}

impl From<HostError> for ControlError {
    fn from(e: HostError) -> Self {
        ControlError::Host(e)
    }
}

/// Something the kernel tells every connected host, unasked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The kernel stopped at a rendezvous and serves requests until
    /// [`Request::Continue`].
    Stopped(Stop),
    /// An object was detached (by whichever host); its owner should drain
    /// it, read its maps and release it.
    Detached {
        /// The object.
        id: ObjectId,
    },
    /// A frame failed to decode and was dropped (its sequence number could
    /// not be trusted, so no reply names it).
    BadFrame(FrameError),
}

/// A message from the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToHost {
    /// The answer to the request with the frame's sequence number.
    Reply(Result<Reply, ControlError>),
    /// An event (sequence number [`EVENT_SEQ`]).
    Event(Event),
}

/// A body that is not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed message body")
    }
}

/// Decode a whole body as `T`: trailing bytes are an error too.
fn decode_exact<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((v, [])) => Ok(v),
        _ => Err(DecodeError),
    }
}

/// Serialize a message body. Postcard into a `Vec` cannot fail for these
/// types (no maps with non-string keys, no unsized sequences); an
/// allocation failure aborts as everywhere else.
fn encode_body<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_allocvec(msg).unwrap_or_default()
}

impl Request {
    /// The postcard body.
    pub fn to_body(&self) -> Vec<u8> {
        encode_body(self)
    }

    /// Decode a body.
    pub fn from_body(body: &[u8]) -> Result<Request, DecodeError> {
        decode_exact(body)
    }

    /// The whole frame, with sequence number `seq`.
    pub fn to_frame(&self, seq: u32) -> Vec<u8> {
        crate::frame::encode(seq, &self.to_body())
    }

    /// The handshake request of this side's version.
    pub fn hello() -> Request {
        Request::Hello {
            version: PROTOCOL_VERSION,
        }
    }
}

impl ToHost {
    /// The postcard body.
    pub fn to_body(&self) -> Vec<u8> {
        encode_body(self)
    }

    /// Decode a body.
    pub fn from_body(body: &[u8]) -> Result<ToHost, DecodeError> {
        decode_exact(body)
    }

    /// The whole frame, with sequence number `seq`.
    pub fn to_frame(&self, seq: u32) -> Vec<u8> {
        crate::frame::encode(seq, &self.to_body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Decoder, Frame};
    use capscope_kernel_hooks::{MapEntry, Page};
    use proptest::prelude::*;

    fn requests() -> Vec<Request> {
        let id = ObjectId(7);
        vec![
            Request::hello(),
            Request::Load {
                object: vec![0, 1, 2, 0, 255],
            },
            Request::Detach { id },
            Request::Release { id },
            Request::List,
            Request::ReadMap {
                id,
                map: 2,
                cursor: 99,
                max_entries: 16,
            },
            Request::ClearMap { id, map: 1 },
            Request::ZeroMap { id, map: 1 },
            Request::DeleteKey {
                id,
                map: 0,
                key: vec![1, 2, 3, 4],
            },
            Request::Drain {
                id,
                map: 3,
                max_bytes: 4096,
            },
            Request::Continue,
        ]
    }

    #[test]
    fn every_request_roundtrips_through_a_frame() {
        for (i, r) in requests().into_iter().enumerate() {
            let wire = r.to_frame(i as u32 + 1);
            let mut d = Decoder::new();
            let mut out = Vec::new();
            d.push_all(&wire, &mut out);
            let [Ok(Frame { seq, body })] = &out[..] else {
                panic!("{out:?}")
            };
            assert_eq!(*seq, i as u32 + 1);
            assert_eq!(Request::from_body(body), Ok(r));
        }
    }

    #[test]
    fn replies_and_events_roundtrip() {
        let msgs = [
            ToHost::Reply(Ok(Reply::Loaded(Loaded {
                id: ObjectId(3),
                programs: 2,
                timing: LoadTiming {
                    verify_ns: 5,
                    ..Default::default()
                },
            }))),
            ToHost::Reply(Ok(Reply::Map(MapRead {
                page: Page {
                    entries: vec![MapEntry {
                        key: vec![1],
                        value: vec![2; 8],
                    }],
                    next: Some(4),
                },
                values_per_entry: 1,
                drops: 9,
            }))),
            ToHost::Reply(Err(ControlError::Load(LoadError::Verify {
                program: 0,
                name: "cap:alloc".into(),
                code: "V041".into(),
                insn: 3,
                message: "bad".into(),
                state: "r1=ctx()".into(),
                span: None,
            }))),
            ToHost::Reply(Err(ControlError::Version {
                got: 9,
                supported: PROTOCOL_VERSION,
            })),
            ToHost::Event(Event::Stopped(Stop::Finished { status: 3 })),
            ToHost::Event(Event::BadFrame(FrameError::Checksum)),
        ];
        for m in msgs {
            assert_eq!(ToHost::from_body(&m.to_body()), Ok(m));
        }
    }

    #[test]
    fn trailing_bytes_and_truncations_are_malformed() {
        for r in requests() {
            let mut body = r.to_body();
            body.push(0);
            assert_eq!(
                Request::from_body(&body),
                Err(DecodeError),
                "{r:?} + trailing byte"
            );
            body.pop();
            for cut in 0..body.len() {
                // A prefix may happen to be another valid request (`List`
                // is one byte); it must never be this one misread.
                if let Ok(other) = Request::from_body(&body[..cut]) {
                    assert_ne!(other, r);
                }
            }
        }
        assert_eq!(
            Request::from_body(&[200]),
            Err(DecodeError),
            "unknown variant"
        );
        assert_eq!(Request::from_body(&[]), Err(DecodeError));
    }

    proptest! {
        #[test]
        fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Request::from_body(&body);
            let _ = ToHost::from_body(&body);
        }

        #[test]
        fn huge_length_prefixes_do_not_allocate_wildly(len in 1u64 << 30..u64::MAX >> 1) {
            // `Load` with a claimed object length far beyond the body.
            let mut body = vec![1u8];
            let mut v = len;
            while v >= 0x80 {
                body.push((v as u8) | 0x80);
                v >>= 7;
            }
            body.push(v as u8);
            prop_assert_eq!(Request::from_body(&body), Err(DecodeError));
        }
    }
}
