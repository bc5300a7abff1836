//! Framing: how messages cross a byte stream that may lose, corrupt or
//! inject bytes.
//!
//! A frame on the wire is `COBS(version, seq, body, crc32) 0x00`:
//! - COBS removes every zero byte from the frame, so `0x00` only ever ends
//!   a frame. A receiver that sees garbage resynchronizes at the next zero.
//! - `version` (1 byte) lets either side refuse a peer it does not speak.
//! - `seq` (u32, little-endian) pairs replies with requests.
//! - `body` is a postcard-encoded message.
//! - `crc32` (CRC-32/ISO-HDLC, little-endian) covers everything before it,
//!   so a corrupted frame is detected and dropped, never misread.

use alloc::vec::Vec;
use core::fmt;

use crc::{CRC_32_ISO_HDLC, Crc};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// Largest decoded frame accepted (version + seq + body + crc). Objects and
/// map snapshots travel in frames, so this bounds both.
pub const MAX_FRAME: usize = 4 << 20;

/// Bytes around the body: version, seq and crc.
const OVERHEAD: usize = 1 + 4 + 4;

const CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// One decoded, checked frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The sequence number.
    pub seq: u32,
    /// The postcard body.
    pub body: Vec<u8>,
}

/// Why a frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FrameError {
    /// More than [`MAX_FRAME`] bytes arrived before a delimiter.
    TooLong,
    /// The bytes are not valid COBS.
    Cobs,
    /// Fewer bytes than a frame's fixed overhead.
    Short,
    /// The checksum does not match: the frame was corrupted.
    Checksum,
    /// The peer speaks another protocol version. The frame's checksum
    /// was good, so its sequence number is trustworthy enough to answer.
    Version {
        /// The version byte the frame carries.
        version: u8,
        /// The frame's sequence number.
        seq: u32,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong => write!(f, "frame longer than {MAX_FRAME} bytes"),
            FrameError::Cobs => write!(f, "frame is not valid COBS"),
            FrameError::Short => write!(f, "frame shorter than its header"),
            FrameError::Checksum => write!(f, "frame checksum mismatch"),
            FrameError::Version { version, .. } => {
                write!(
                    f,
                    "peer speaks protocol version {version}, this side speaks {PROTOCOL_VERSION}"
                )
            }
        }
    }
}

/// Encode one frame, delimiter included.
pub fn encode(seq: u32, body: &[u8]) -> Vec<u8> {
    encode_versioned(PROTOCOL_VERSION, seq, body)
}

/// Encode one frame claiming protocol `version` (tests of version
/// handling, and a future host speaking to an older kernel).
pub fn encode_versioned(version: u8, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(OVERHEAD + body.len());
    raw.push(version);
    raw.extend_from_slice(&seq.to_le_bytes());
    raw.extend_from_slice(body);
    let crc = CRC.checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut out = cobs::encode_vec(&raw);
    out.push(0);
    out
}

/// Reassembles frames from a byte stream, one byte or chunk at a time.
///
/// Memory is bounded: at most [`MAX_FRAME`] (COBS-encoded) bytes are held,
/// or the smaller limit given to [`Decoder::with_limit`]; beyond that the
/// decoder discards input until the next delimiter and then reports
/// [`FrameError::TooLong`].
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    overflowed: bool,
    limit: usize,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with nothing buffered, accepting frames up to [`MAX_FRAME`].
    pub fn new() -> Decoder {
        Decoder::with_limit(MAX_FRAME)
    }

    /// A decoder accepting decoded frames of at most `max` bytes (capped at
    /// [`MAX_FRAME`]). A kernel with a small heap uses a smaller limit than
    /// the host, which must accept whatever the kernel may send.
    pub fn with_limit(max: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            overflowed: false,
            limit: max.min(MAX_FRAME),
        }
    }

    /// Feed one byte; returns a frame (or the reason one was dropped) when
    /// the byte ends one.
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame, FrameError>> {
        if byte != 0 {
            if self.buf.len() < cobs::max_encoding_length(self.limit) {
                self.buf.push(byte);
            } else {
                self.overflowed = true;
            }
            return None;
        }
        if self.buf.is_empty() && !self.overflowed {
            // Back-to-back delimiters: an empty frame carries nothing, and
            // senders may emit a leading zero to flush a receiver's partial
            // frame. Not an error.
            return None;
        }
        let result = if core::mem::take(&mut self.overflowed) {
            Err(FrameError::TooLong)
        } else {
            decode_raw(&mut self.buf, self.limit)
        };
        self.buf.clear();
        Some(result)
    }

    /// Feed a chunk; every completed frame (or drop) is appended to `out`.
    pub fn push_all(&mut self, bytes: &[u8], out: &mut Vec<Result<Frame, FrameError>>) {
        out.extend(bytes.iter().filter_map(|&b| self.push(b)));
    }

    /// Bytes of an incomplete frame currently held.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn decode_raw(encoded: &mut [u8], limit: usize) -> Result<Frame, FrameError> {
    let len = cobs::decode_in_place(encoded).map_err(|_| FrameError::Cobs)?;
    let raw = encoded.get(..len).ok_or(FrameError::Cobs)?;
    if raw.len() < OVERHEAD {
        return Err(FrameError::Short);
    }
    if raw.len() > limit {
        return Err(FrameError::TooLong);
    }
    let (payload, crc) = raw.split_at(raw.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if CRC.checksum(payload) != crc {
        return Err(FrameError::Checksum);
    }
    let seq = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
    if payload[0] != PROTOCOL_VERSION {
        return Err(FrameError::Version {
            version: payload[0],
            seq,
        });
    }
    Ok(Frame {
        seq,
        body: payload[5..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.push_all(bytes, &mut out);
        out
    }

    #[test]
    fn roundtrip_including_zero_bytes_in_the_body() {
        let body = [0u8, 1, 0, 0, 255, 0];
        let wire = encode(7, &body);
        assert_eq!(
            wire.iter().filter(|&&b| b == 0).count(),
            1,
            "only the delimiter is zero"
        );
        assert_eq!(
            decode_all(&wire),
            [Ok(Frame {
                seq: 7,
                body: body.to_vec()
            })]
        );
    }

    #[test]
    fn every_single_byte_corruption_is_detected() {
        let wire = encode(42, b"load this object please");
        for i in 0..wire.len() - 1 {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut w = wire.clone();
                w[i] ^= flip;
                for r in decode_all(&w) {
                    assert!(
                        r.is_err(),
                        "corruption at byte {i} (^{flip:#x}) went unnoticed"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_version_is_reported() {
        let mut raw = vec![PROTOCOL_VERSION + 1, 9, 0, 0, 0];
        let crc = CRC.checksum(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        let mut wire = cobs::encode_vec(&raw);
        wire.push(0);
        assert_eq!(
            decode_all(&wire),
            [Err(FrameError::Version {
                version: PROTOCOL_VERSION + 1,
                seq: 9
            })]
        );
        assert_eq!(encode_versioned(PROTOCOL_VERSION + 1, 9, &[]), wire);
    }

    #[test]
    fn a_smaller_limit_is_enforced() {
        let mut d = Decoder::with_limit(64);
        let mut out = Vec::new();
        d.push_all(&encode(3, &[7u8; 100]), &mut out);
        assert_eq!(out, [Err(FrameError::TooLong)]);
        out.clear();
        d.push_all(&encode(4, &[7u8; 40]), &mut out);
        assert_eq!(
            out,
            [Ok(Frame {
                seq: 4,
                body: vec![7u8; 40]
            })]
        );
    }

    #[test]
    fn oversized_input_is_bounded_and_reported() {
        let mut d = Decoder::new();
        for _ in 0..cobs::max_encoding_length(MAX_FRAME) + 10 {
            assert!(d.push(1).is_none());
        }
        assert!(d.pending() <= cobs::max_encoding_length(MAX_FRAME));
        assert_eq!(d.push(0), Some(Err(FrameError::TooLong)));
        // The decoder recovers for the next frame.
        let mut out = Vec::new();
        d.push_all(&encode(1, b"x"), &mut out);
        assert_eq!(
            out,
            [Ok(Frame {
                seq: 1,
                body: b"x".to_vec()
            })]
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics_and_a_good_frame_after_it_still_arrives(
            garbage in proptest::collection::vec(any::<u8>(), 0..512),
            body in proptest::collection::vec(any::<u8>(), 0..256),
            seq in any::<u32>(),
        ) {
            let mut wire = garbage;
            // A zero ends whatever the garbage left half-finished.
            wire.push(0);
            wire.extend_from_slice(&encode(seq, &body));
            let frames = decode_all(&wire);
            prop_assert_eq!(frames.last(), Some(&Ok(Frame { seq, body })));
        }
    }
}
