//! `ringbuf`: variable-size records from programs to the host.
//!
//! Positions are byte counters that only grow; the buffer index is the
//! position modulo the size (a power of two), so records wrap around the end
//! word by word. A record is an 8-byte header (its length) and the payload
//! padded to 8 bytes. Producers (programs on any CPU) serialize on a lock
//! only while they copy one record; the consumer (the host) never takes
//! that lock: it reads records between its own position and the published
//! producer position, then releases the space by advancing its position.
//! A record that does not fit is dropped, counted, and `-ENOSPC` returned.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::*};

use super::{Fail, Lock};
use crate::lock::SpinLock;
use crate::mem::{self, OutOfMemory};

pub(crate) struct RingBuf {
    words: Vec<AtomicU64>,
    /// Size in bytes.
    size: u64,
    prod: AtomicU64,
    cons: AtomicU64,
    prod_lock: SpinLock,
    cons_lock: SpinLock,
}

impl RingBuf {
    pub(crate) fn footprint(size: u32) -> u64 {
        size as u64
    }

    pub(crate) fn new(size: u32) -> Result<Self, OutOfMemory> {
        Ok(RingBuf {
            words: mem::words(size as usize / 8)?,
            size: size as u64,
            prod: AtomicU64::new(0),
            cons: AtomicU64::new(0),
            prod_lock: SpinLock::new(),
            cons_lock: SpinLock::new(),
        })
    }

    fn at(&self, pos: u64) -> &AtomicU64 {
        let mask = self.words.len() - 1;
        &self.words[(pos / 8) as usize & mask]
    }

    /// Append one record holding `data`.
    pub(crate) fn output(&self, data: &[u8]) -> Result<(), Fail> {
        let rec = 8 + mem::words_for(data.len()) as u64 * 8;
        if rec > self.size {
            return Err(Fail::NoSpace);
        }
        let _g = Lock::Fire.take(&self.prod_lock)?;
        let p = self.prod.load(Relaxed);
        let c = self.cons.load(Acquire);
        if p - c + rec > self.size {
            return Err(Fail::NoSpace);
        }
        self.at(p).store(data.len() as u64, Relaxed);
        for i in 0..mem::words_for(data.len()) {
            self.at(p + 8 + i as u64 * 8)
                .store(mem::word(data, i), Relaxed);
        }
        // Publish: the consumer that sees the new position sees the record.
        self.prod.store(p + rec, Release);
        Ok(())
    }

    /// Bytes of records waiting for the host.
    pub(crate) fn pending(&self) -> u64 {
        self.prod.load(Acquire) - self.cons.load(Relaxed)
    }

    /// Hand waiting records to `f`, oldest first, until about `max_bytes`
    /// of payload are out (at least one record if any waits). Returns
    /// whether records remain.
    pub(crate) fn drain(&self, max_bytes: usize, f: &mut dyn FnMut(&[u8])) -> bool {
        let _g = self.cons_lock.lock();
        let mut c = self.cons.load(Relaxed);
        let p = self.prod.load(Acquire);
        let mut out = 0usize;
        let mut buf = Vec::new();
        while c < p && (out == 0 || out < max_bytes) {
            let len = self.at(c).load(Relaxed);
            let rec = 8 + len.div_ceil(8) * 8;
            if rec > p - c {
                // Our own writer never publishes a partial record; stop
                // rather than trust a corrupt header.
                break;
            }
            buf.clear();
            buf.resize(len as usize, 0);
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                let w = self.at(c + 8 + i as u64 * 8).load(Relaxed).to_le_bytes();
                chunk.copy_from_slice(&w[..chunk.len()]);
            }
            f(&buf);
            out += len as usize;
            // Release the space only after the copy.
            c += rec;
            self.cons.store(c, Release);
        }
        c < self.prod.load(Acquire)
    }

    /// Drop every waiting record (the host's clear).
    pub(crate) fn clear(&self) {
        let _g = self.cons_lock.lock();
        self.cons.store(self.prod.load(Acquire), Release);
    }
}
