//! The ring buffer: variable-size records from programs to the host.
//!
//! Space is accounted as Linux does: each record takes an 8-byte header
//! plus its payload rounded up to 8 bytes. A record that does not fit is
//! dropped, counted, and the helper fails; the host frees space by taking
//! records.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Errno;
use crate::abi::consts::errno;

/// Bytes of framing before each record's payload.
pub const RECORD_HEADER: u64 = 8;

/// Linux's `BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP`: the only flags allowed.
const FLAGS: u64 = 0b11;

/// The space one record of `len` payload bytes takes.
pub fn framed_len(len: u64) -> u64 {
    (RECORD_HEADER + len).div_ceil(8) * 8
}

pub(crate) struct RingBuf {
    capacity: u64,
    used: u64,
    records: VecDeque<Vec<u8>>,
}

impl RingBuf {
    pub(crate) fn new(capacity: u32) -> RingBuf {
        RingBuf {
            capacity: u64::from(capacity),
            used: 0,
            records: VecDeque::new(),
        }
    }

    /// Append a record. `Err(ENOSPC)` means it was dropped for lack of space.
    pub(crate) fn output(&mut self, data: Vec<u8>, flags: u64) -> Result<(), Errno> {
        if flags & !FLAGS != 0 {
            return Err(errno::EINVAL);
        }
        let need = framed_len(data.len() as u64);
        if self.used + need > self.capacity {
            return Err(errno::ENOSPC);
        }
        self.used += need;
        self.records.push_back(data);
        Ok(())
    }

    /// The records not yet taken, oldest first.
    pub(crate) fn records(&self) -> Vec<Vec<u8>> {
        self.records.iter().cloned().collect()
    }

    /// Take every record, freeing their space.
    pub(crate) fn take(&mut self) -> Vec<Vec<u8>> {
        self.used = 0;
        self.records.drain(..).collect()
    }

    /// Bytes in use, framing included.
    pub(crate) fn used(&self) -> u64 {
        self.used
    }
}
