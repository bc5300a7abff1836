//! `lru_hash`: a hash map that evicts the least recently used entry instead
//! of refusing an insert when it is full.
//!
//! Recency is exact: every lookup and update moves the entry to the front
//! of a doubly linked list, so the whole map is under one lock (a per-bucket
//! lock could not protect the list). LRU maps hold bounded working sets
//! (`@start[tid]`), where exactness matters more than scaling.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::table::{NIL, Table};
use super::{Fail, Lock, MapEntry, Page, flags_ok};
use crate::abi::helpers::update_flags;
use crate::lock::SpinLock;
use crate::mem::{self, OutOfMemory};

pub(crate) struct LruHash {
    table: Table,
    lock: SpinLock,
    /// Toward the most recently used end.
    prev: Vec<AtomicU32>,
    /// Toward the least recently used end.
    next: Vec<AtomicU32>,
    head: AtomicU32,
    tail: AtomicU32,
    seed: u64,
    value_size: usize,
}

impl LruHash {
    pub(crate) fn footprint(key: u32, value: u32, cap: u32) -> u64 {
        Table::footprint(key, value, cap) + cap as u64 * 8
    }

    pub(crate) fn new(key: u32, value: u32, cap: u32, seed: u64) -> Result<Self, OutOfMemory> {
        Ok(LruHash {
            table: Table::new(key, value, cap)?,
            lock: SpinLock::new(),
            prev: mem::try_vec(cap as usize, || AtomicU32::new(NIL))?,
            next: mem::try_vec(cap as usize, || AtomicU32::new(NIL))?,
            head: AtomicU32::new(NIL),
            tail: AtomicU32::new(NIL),
            seed,
            value_size: value as usize,
        })
    }

    fn set(v: &[AtomicU32], i: u32, to: u32) {
        if let Some(a) = v.get(i as usize) {
            a.store(to, Relaxed);
        }
    }

    fn get(v: &[AtomicU32], i: u32) -> u32 {
        v.get(i as usize).map_or(NIL, |a| a.load(Relaxed))
    }

    fn unlink(&self, i: u32) {
        let (p, n) = (Self::get(&self.prev, i), Self::get(&self.next, i));
        if p == NIL {
            self.head.store(n, Relaxed);
        } else {
            Self::set(&self.next, p, n);
        }
        if n == NIL {
            self.tail.store(p, Relaxed);
        } else {
            Self::set(&self.prev, n, p);
        }
    }

    fn push_front(&self, i: u32) {
        let h = self.head.load(Relaxed);
        Self::set(&self.prev, i, NIL);
        Self::set(&self.next, i, h);
        if h == NIL {
            self.tail.store(i, Relaxed);
        } else {
            Self::set(&self.prev, h, i);
        }
        self.head.store(i, Relaxed);
    }

    fn touch(&self, i: u32) {
        if self.head.load(Relaxed) != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    fn bucket(&self, key: &[u8]) -> usize {
        self.table.bucket_of(mem::hash(key, self.seed))
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> Result<*mut u8, Fail> {
        let b = self.bucket(key);
        let _g = Lock::Fire.take(&self.lock)?;
        Ok(match self.table.find(b, key) {
            Some(i) => {
                self.touch(i);
                mem::ptr(self.table.value(i))
            }
            None => core::ptr::null_mut(),
        })
    }

    pub(crate) fn update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        how: Lock,
    ) -> Result<(), Fail> {
        flags_ok(flags)?;
        let b = self.bucket(key);
        let _g = how.take(&self.lock)?;
        match self.table.find(b, key) {
            Some(_) if flags == update_flags::NOEXIST => Err(Fail::EEXIST),
            Some(i) => {
                mem::store(self.table.value(i), value);
                self.touch(i);
                Ok(())
            }
            None if flags == update_flags::EXIST => Err(Fail::ENOENT),
            None => {
                let i = match self.table.insert(b, key, Some(value)) {
                    Ok(i) => i,
                    Err(_) => {
                        let victim = self.tail.load(Relaxed);
                        if victim == NIL {
                            return Err(Fail::Full);
                        }
                        self.unlink(victim);
                        self.table.remove_index(victim);
                        self.table
                            .insert(b, key, Some(value))
                            .map_err(|_| Fail::Full)?
                    }
                };
                self.push_front(i);
                Ok(())
            }
        }
    }

    pub(crate) fn delete(&self, key: &[u8], how: Lock) -> Result<(), Fail> {
        let b = self.bucket(key);
        let _g = how.take(&self.lock)?;
        let i = self.table.find(b, key).ok_or(Fail::ENOENT)?;
        self.unlink(i);
        self.table.remove_index(i);
        Ok(())
    }

    pub(crate) fn len(&self) -> u32 {
        self.table.len()
    }

    pub(crate) fn page(&self, cursor: u64, max: usize, out: &mut Page) {
        let mut b = cursor as usize;
        while b < self.table.buckets() && out.entries.len() < max {
            // One bucket per lock hold, so firing waits for one chain at most.
            let _g = self.lock.lock();
            self.table.for_each(b, |i| {
                let mut e = MapEntry::default();
                mem::load_into(self.table.key(i), self.table.key_size(), &mut e.key);
                mem::load_into(self.table.value(i), self.value_size, &mut e.value);
                out.entries.push(e);
            });
            b += 1;
        }
        out.next = (b < self.table.buckets()).then_some(b as u64);
    }

    pub(crate) fn clear(&self) {
        for b in 0..self.table.buckets() {
            let _g = self.lock.lock();
            let mut doomed = NIL;
            self.table.for_each(b, |i| doomed = i);
            while doomed != NIL {
                self.unlink(doomed);
                self.table.remove_index(doomed);
                doomed = NIL;
                self.table.for_each(b, |i| doomed = i);
            }
        }
    }

    pub(crate) fn zero(&self) {
        for b in 0..self.table.buckets() {
            let _g = self.lock.lock();
            self.table.for_each(b, |i| mem::zero(self.table.value(i)));
        }
    }
}
