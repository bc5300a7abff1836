//! Hash maps: `hash`, `percpu_hash` and `lru_hash`.
//!
//! Values live in a slab of boxes that is never shrunk while the map lives,
//! like Linux's preallocated hash maps: a deleted (or evicted) entry's
//! memory goes to a free list and may be reused by a later insert, but it
//! stays valid, so a pointer a program got from an earlier lookup can never
//! dangle. Updates write in place.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::Errno;
use super::raw::ValueBuf;
use crate::abi::consts::errno;
use crate::abi::helpers::update_flags;

#[derive(Clone, Copy)]
struct Slot {
    /// Index into the slab.
    at: usize,
    /// When the entry was last used (LRU order).
    used: u64,
}

pub(crate) struct HashStore {
    value_size: usize,
    max_entries: usize,
    /// Copies per entry: the CPU count for per-CPU maps, else 1.
    copies: usize,
    lru: bool,
    index: BTreeMap<Vec<u8>, Slot>,
    slab: Vec<ValueBuf>,
    free: Vec<usize>,
    tick: u64,
}

impl HashStore {
    pub(crate) fn new(value_size: u32, max_entries: u32, copies: u32, lru: bool) -> HashStore {
        HashStore {
            value_size: value_size as usize,
            max_entries: max_entries as usize,
            copies: copies.max(1) as usize,
            lru,
            index: BTreeMap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            tick: 0,
        }
    }

    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Address of `cpu`'s copy of the value under `key`.
    pub(crate) fn lookup(&mut self, key: &[u8], cpu: usize) -> Option<u64> {
        let now = self.touch();
        let slot = self.index.get_mut(key)?;
        slot.used = now;
        let at = slot.at;
        Some(self.copy_addr(at, cpu))
    }

    fn copy_addr(&self, at: usize, cpu: usize) -> u64 {
        let c = cpu.min(self.copies - 1);
        self.slab[at].addr(c * self.value_size)
    }

    /// Store `value` under `key` (for per-CPU maps: `cpu`'s copy).
    pub(crate) fn update(
        &mut self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), Errno> {
        if flags > update_flags::EXIST {
            return Err(errno::EINVAL);
        }
        let now = self.touch();
        let vs = self.value_size;
        let c = cpu.min(self.copies - 1);
        if let Some(slot) = self.index.get_mut(key) {
            if flags == update_flags::NOEXIST {
                return Err(errno::EEXIST);
            }
            slot.used = now;
            self.slab[slot.at].write(c * vs, &value[..vs]);
            return Ok(());
        }
        if flags == update_flags::EXIST {
            return Err(errno::ENOENT);
        }
        if self.index.len() >= self.max_entries {
            if !self.lru {
                return Err(errno::E2BIG);
            }
            self.evict();
        }
        let at = match self.free.pop() {
            Some(at) => at,
            None => {
                self.slab.push(ValueBuf::zeroed(vs * self.copies));
                self.slab.len() - 1
            }
        };
        // A new entry starts zeroed on every CPU but this one, as in Linux.
        let buf = &self.slab[at];
        buf.fill(0);
        buf.write(c * vs, &value[..vs]);
        self.index.insert(key.to_vec(), Slot { at, used: now });
        Ok(())
    }

    fn evict(&mut self) {
        let oldest = self
            .index
            .iter()
            .min_by_key(|(_, s)| s.used)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.delete(&k).ok();
        }
    }

    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<(), Errno> {
        let slot = self.index.remove(key).ok_or(errno::ENOENT)?;
        // The memory stays allocated: a program may still hold a pointer.
        self.free.push(slot.at);
        Ok(())
    }

    /// Every entry, sorted by key, with one value per copy.
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        self.index
            .iter()
            .map(|(k, s)| {
                let vals = (0..self.copies)
                    .map(|c| self.slab[s.at].read(c * self.value_size, self.value_size))
                    .collect();
                (k.clone(), vals)
            })
            .collect()
    }

    /// Remove every entry (host-side `clear`).
    pub(crate) fn clear(&mut self) {
        let slots: Vec<_> = self.index.values().map(|s| s.at).collect();
        self.free.extend(slots);
        self.index.clear();
    }

    /// Zero every value (host-side `zero`).
    pub(crate) fn zero(&mut self) {
        for s in self.index.values() {
            self.slab[s.at].fill(0);
        }
    }
}
