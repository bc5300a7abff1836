//! The control channel between the `capscope` command on the host and a
//! running kernel.
//!
//! The channel is a byte stream (a serial port exposed by QEMU on a Unix
//! socket). This crate is the one definition both ends use:
//! - [`frame`]: COBS framing with a version byte, a sequence number and a
//!   CRC-32, so lost, corrupted or injected bytes are detected and the
//!   receiver resynchronizes at the next frame;
//! - [`msg`]: the requests, replies and events, encoded with postcard;
//!   their payloads are `capscope-kernel-hooks`' own serde types.
//!
//! `docs/control.md` describes the protocol, the broker and the
//! rendezvous points.
//!
//! It is `no_std` + `alloc` because the kernel links it. Every decoder
//! treats its input as hostile: malformed input is an error, never a panic,
//! and memory use is bounded by [`frame::MAX_FRAME`].
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod frame;
pub mod msg;

pub use frame::{Decoder, Frame, FrameError, PROTOCOL_VERSION};
pub use msg::{
    ControlError, EVENT_SEQ, Event, KernelInfo, Listing, LoadTiming, Loaded, Reply, Request, Stop,
    ToHost,
};
