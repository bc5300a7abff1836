//! Frames in, messages out: the byte-level side of the channel.
//!
//! Every byte from the host goes through a `capscope_control` frame
//! decoder with a 1 MiB limit (the kernel heap is 32 MiB; a probe object
//! is a few KiB). A complete frame becomes an [`Incoming`]: a decoded
//! request, or the reason it is not one. Nothing here acts on a request.

use capscope_control::frame::{Decoder, FrameError};
use capscope_control::{PROTOCOL_VERSION, Request, ToHost};

use crate::dev::serial::COM2;

/// Largest decoded frame the kernel accepts.
pub const MAX_REQUEST: usize = 1 << 20;

/// What a complete frame turned out to be.
pub enum Incoming {
    /// A request, with the time from its frame's first byte to its last.
    Request {
        /// Its sequence number (the reply's).
        seq: u32,
        /// The request.
        req: Request,
        /// Nanoseconds the frame took to arrive.
        receive_ns: u64,
    },
    /// A good frame whose body is not a request.
    Malformed {
        /// Its sequence number.
        seq: u32,
    },
    /// A good frame of another protocol version.
    Version {
        /// Its sequence number.
        seq: u32,
        /// The version it claims.
        got: u8,
    },
    /// A corrupt frame (its sequence number cannot be trusted).
    Bad(FrameError),
}

/// The receiving half: a frame decoder and the current frame's start time.
pub struct Link {
    decoder: Decoder,
    frame_start_ns: u64,
}

impl Link {
    /// Nothing received yet.
    pub fn new() -> Link {
        Link {
            decoder: Decoder::with_limit(MAX_REQUEST),
            frame_start_ns: 0,
        }
    }

    /// Take one byte from the host; a complete frame comes out decoded.
    pub fn feed(&mut self, byte: u8) -> Option<Incoming> {
        if byte != 0 && self.decoder.pending() == 0 {
            self.frame_start_ns = crate::time::now_ns();
        }
        let frame = self.decoder.push(byte)?;
        Some(match frame {
            Ok(f) => match Request::from_body(&f.body) {
                Ok(req) => Incoming::Request {
                    seq: f.seq,
                    req,
                    receive_ns: crate::time::now_ns().saturating_sub(self.frame_start_ns),
                },
                Err(_) => Incoming::Malformed { seq: f.seq },
            },
            Err(FrameError::Version { version, seq }) => Incoming::Version { seq, got: version },
            Err(e) => Incoming::Bad(e),
        })
    }
}

/// Send one message to the host. The UART is written by polling, so this
/// works with interrupts off (the rendezvous loops) and on any path.
pub fn send(seq: u32, msg: &ToHost) {
    COM2.write_raw(&msg.to_frame(seq));
}

/// The version this kernel speaks (for replies to other versions).
pub const VERSION: u8 = PROTOCOL_VERSION;
