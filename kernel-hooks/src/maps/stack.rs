//! `stack_trace`: stacks by id, as `get_stackid` stores them.
//!
//! A stack's home bucket is its hash modulo the number of buckets, and its
//! id is the bucket it lands in. Each bucket holds one stack: `[hash,
//! frames, ip0, ip1, ...]`. Unlike Linux, which drops a stack whose one
//! bucket is taken, a stack may land in any of the [`PROBES`] buckets from
//! its home on: a map with a few distinct stacks (the usual checker) then
//! never loses one to a hash collision, so what a probe reports does not
//! depend on the map's random seed. Only when all of them hold other
//! stacks is it a collision: by default the new stack is dropped
//! (`-EEXIST`, counted), and with `BPF_F_REUSE_STACKID` it replaces the
//! stack in its home bucket. With `BPF_F_FAST_STACK_CMP` only the hashes
//! are compared. Each bucket has its own lock, held while its frames are
//! written or copied out; buckets are probed in order, one lock at a time.
//!
//! Deleting a stack can leave a hole before a stack that probed past it;
//! that stack may then be stored again in the hole under a second id. Both
//! ids name the right frames, which is all an id promises.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{Fail, Lock, MapEntry, Page};
use crate::abi::helpers::{STACK_ID_PROBES as PROBES, stack_flags};
use crate::lock::SpinLock;
use crate::mem::{self, OutOfMemory};

pub(crate) struct StackMap {
    data: Vec<AtomicU64>,
    locks: Vec<SpinLock>,
    depth: usize,
    n: u32,
    seed: u64,
}

/// A bucket is empty while its frame count is zero.
const HASH: usize = 0;
const FRAMES: usize = 1;
const IPS: usize = 2;

impl StackMap {
    pub(crate) fn footprint(value: u32, n: u32) -> u64 {
        (value as u64 / 8 + 2) * 8 * n as u64 + n as u64
    }

    pub(crate) fn new(value: u32, n: u32, seed: u64) -> Result<Self, OutOfMemory> {
        let depth = value as usize / 8;
        Ok(StackMap {
            data: mem::words((depth + IPS) * n as usize)?,
            locks: mem::try_vec(n as usize, SpinLock::new)?,
            depth,
            n,
            seed,
        })
    }

    /// The deepest stack a bucket holds; deeper stacks are truncated.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    fn bucket(&self, id: u32) -> &[AtomicU64] {
        let s = id as usize * (self.depth + IPS);
        self.data.get(s..s + self.depth + IPS).unwrap_or(&[])
    }

    fn hash(&self, ips: &[u64]) -> u64 {
        mem::hash_words(ips, self.seed)
    }

    fn same(bucket: &[AtomicU64], ips: &[u64]) -> bool {
        bucket[FRAMES].load(Relaxed) == ips.len() as u64
            && bucket[IPS..]
                .iter()
                .zip(ips)
                .all(|(w, ip)| w.load(Relaxed) == *ip)
    }

    /// Store the stack `ips` (innermost first, already skipped and
    /// truncated to [`StackMap::depth`]) and return its id.
    pub(crate) fn get_id(&self, ips: &[u64], flags: u64) -> Result<u32, Fail> {
        if ips.is_empty() {
            return Err(Fail::EFAULT);
        }
        let ips = &ips[..ips.len().min(self.depth)];
        let h = self.hash(ips);
        let home = (h % self.n as u64) as u32;
        for i in 0..PROBES.min(self.n) {
            let id = ((home as u64 + i as u64) % self.n as u64) as u32;
            let bucket = self.bucket(id);
            let _g = Lock::Fire.take(&self.locks[id as usize])?;
            let frames = bucket[FRAMES].load(Relaxed);
            if frames == 0 {
                Self::store(bucket, h, ips);
                return Ok(id);
            }
            if bucket[HASH].load(Relaxed) == h
                && (flags & stack_flags::FAST_STACK_CMP != 0 || Self::same(bucket, ips))
            {
                return Ok(id);
            }
        }
        if flags & stack_flags::REUSE_STACKID == 0 {
            return Err(Fail::Collision);
        }
        let _g = Lock::Fire.take(&self.locks[home as usize])?;
        Self::store(self.bucket(home), h, ips);
        Ok(home)
    }

    fn store(bucket: &[AtomicU64], h: u64, ips: &[u64]) {
        bucket[HASH].store(h, Relaxed);
        for (i, w) in bucket[IPS..].iter().enumerate() {
            w.store(ips.get(i).copied().unwrap_or(0), Relaxed);
        }
        bucket[FRAMES].store(ips.len() as u64, Relaxed);
    }

    pub(crate) fn len(&self) -> u32 {
        (0..self.n)
            .filter(|&id| self.bucket(id)[FRAMES].load(Relaxed) != 0)
            .count() as u32
    }

    /// Entries: key = id (`u32`), value = `depth` frames, zero-padded.
    pub(crate) fn page(&self, cursor: u64, max: usize, out: &mut Page) {
        let mut id = cursor.min(self.n as u64) as u32;
        while id < self.n && out.entries.len() < max {
            let _g = self.locks[id as usize].lock();
            let b = self.bucket(id);
            if b[FRAMES].load(Relaxed) != 0 {
                let mut e = MapEntry {
                    key: id.to_le_bytes().to_vec(),
                    value: Vec::new(),
                };
                mem::load_into(&b[IPS..], self.depth * 8, &mut e.value);
                out.entries.push(e);
            }
            id += 1;
        }
        out.next = (id < self.n).then_some(id as u64);
    }

    pub(crate) fn delete(&self, key: &[u8], how: Lock) -> Result<(), Fail> {
        let id = mem::word(key, 0) as u32;
        if id >= self.n {
            return Err(Fail::ENOENT);
        }
        let _g = how.take(&self.locks[id as usize])?;
        let b = self.bucket(id);
        if b[FRAMES].load(Relaxed) == 0 {
            return Err(Fail::ENOENT);
        }
        mem::zero(b);
        Ok(())
    }

    pub(crate) fn clear(&self) {
        for id in 0..self.n {
            let _g = self.locks[id as usize].lock();
            mem::zero(self.bucket(id));
        }
    }
}
