//! `hash`: one table shared by all CPUs, one lock per bucket.
//!
//! Every operation, lookups included, holds its bucket's lock while it
//! walks the chain; inserts and deletes also take the free-list lock
//! (bucket, then free list: one order, so no deadlock). A lookup returns a
//! pointer into the value that stays valid for the map's lifetime; if
//! another CPU deletes the key and reuses the element meanwhile, the program
//! sees the new contents, as with Linux's preallocated hash maps.

use alloc::vec::Vec;

use super::table::{Full, Table};
use super::{Fail, Lock, MapEntry, Page, flags_ok};
use crate::abi::helpers::update_flags;
use crate::lock::SpinLock;
use crate::mem::{self, OutOfMemory};

pub(crate) struct HashMap {
    table: Table,
    locks: Vec<SpinLock>,
    free_lock: SpinLock,
    seed: u64,
    value_size: usize,
}

impl HashMap {
    pub(crate) fn footprint(key: u32, value: u32, cap: u32) -> u64 {
        Table::footprint(key, value, cap) + (cap as u64).next_power_of_two()
    }

    pub(crate) fn new(key: u32, value: u32, cap: u32, seed: u64) -> Result<Self, OutOfMemory> {
        let table = Table::new(key, value, cap)?;
        let locks = mem::try_vec(table.buckets(), SpinLock::new)?;
        Ok(HashMap {
            table,
            locks,
            free_lock: SpinLock::new(),
            seed,
            value_size: value as usize,
        })
    }

    fn bucket(&self, key: &[u8]) -> usize {
        self.table.bucket_of(mem::hash(key, self.seed))
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> Result<*mut u8, Fail> {
        let b = self.bucket(key);
        let _g = Lock::Fire.take(&self.locks[b])?;
        Ok(self
            .table
            .find(b, key)
            .map_or(core::ptr::null_mut(), |i| mem::ptr(self.table.value(i))))
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
        let _g = how.take(&self.locks[b])?;
        match self.table.find(b, key) {
            Some(_) if flags == update_flags::NOEXIST => Err(Fail::EEXIST),
            Some(i) => {
                mem::store(self.table.value(i), value);
                Ok(())
            }
            None if flags == update_flags::EXIST => Err(Fail::ENOENT),
            None => {
                let _f = how.take(&self.free_lock)?;
                self.table
                    .insert(b, key, Some(value))
                    .map(drop)
                    .map_err(|Full| Fail::Full)
            }
        }
    }

    pub(crate) fn delete(&self, key: &[u8], how: Lock) -> Result<(), Fail> {
        let b = self.bucket(key);
        let _g = how.take(&self.locks[b])?;
        let i = self.table.find(b, key).ok_or(Fail::ENOENT)?;
        let _f = how.take(&self.free_lock)?;
        self.table.remove_index(i);
        Ok(())
    }

    pub(crate) fn len(&self) -> u32 {
        self.table.len()
    }

    /// Copy whole buckets from `cursor` on until `max` entries are out.
    pub(crate) fn page(&self, cursor: u64, max: usize, out: &mut Page) {
        let mut b = cursor as usize;
        while b < self.table.buckets() && out.entries.len() < max {
            let _g = self.locks[b].lock();
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
            let _g = self.locks[b].lock();
            let _f = self.free_lock.lock();
            self.table.clear_bucket(b);
        }
    }

    pub(crate) fn zero(&self) {
        for b in 0..self.table.buckets() {
            let _g = self.locks[b].lock();
            self.table.for_each(b, |i| mem::zero(self.table.value(i)));
        }
    }
}
