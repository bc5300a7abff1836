//! Arrays: `array` and `percpu_array`.
//!
//! Every index below `max_entries` exists and starts zeroed. Storage is
//! materialized on first touch (a 16M-entry array costs nothing until used),
//! one box per index, so addresses are stable for the map's lifetime.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::Errno;
use super::raw::ValueBuf;
use crate::abi::consts::errno;
use crate::abi::helpers::update_flags;

pub(crate) struct ArrayStore {
    value_size: usize,
    max_entries: u32,
    copies: usize,
    values: BTreeMap<u32, ValueBuf>,
}

/// The index an array key names: its first four bytes, little-endian (keys
/// are exactly four bytes in a valid object; shorter ones are zero-padded).
pub(crate) fn index_of(key: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    let n = key.len().min(4);
    b[..n].copy_from_slice(&key[..n]);
    u32::from_le_bytes(b)
}

impl ArrayStore {
    pub(crate) fn new(value_size: u32, max_entries: u32, copies: u32) -> ArrayStore {
        ArrayStore {
            value_size: value_size as usize,
            max_entries,
            copies: copies.max(1) as usize,
            values: BTreeMap::new(),
        }
    }

    fn entry(&mut self, idx: u32) -> &ValueBuf {
        let len = self.value_size * self.copies;
        self.values
            .entry(idx)
            .or_insert_with(|| ValueBuf::zeroed(len))
    }

    pub(crate) fn lookup(&mut self, key: &[u8], cpu: usize) -> Option<u64> {
        let idx = index_of(key);
        if idx >= self.max_entries {
            return None;
        }
        let (vs, c) = (self.value_size, cpu.min(self.copies - 1));
        Some(self.entry(idx).addr(c * vs))
    }

    pub(crate) fn update(
        &mut self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), Errno> {
        // Linux's order of checks: flags, then range, then NOEXIST (every
        // element of an array already exists).
        if flags > update_flags::EXIST {
            return Err(errno::EINVAL);
        }
        let idx = index_of(key);
        if idx >= self.max_entries {
            return Err(errno::E2BIG);
        }
        if flags == update_flags::NOEXIST {
            return Err(errno::EEXIST);
        }
        let (vs, c) = (self.value_size, cpu.min(self.copies - 1));
        self.entry(idx).write(c * vs, &value[..vs]);
        Ok(())
    }

    /// Entries with any non-zero byte, by index. All-zero entries are left
    /// out: they are indistinguishable from never-touched ones.
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        self.values
            .iter()
            .filter(|(_, v)| v.any_nonzero())
            .map(|(i, v)| {
                let vals = (0..self.copies)
                    .map(|c| v.read(c * self.value_size, self.value_size))
                    .collect();
                (i.to_le_bytes().to_vec(), vals)
            })
            .collect()
    }

    /// Zero every value (`clear` and `zero` mean the same for arrays).
    pub(crate) fn zero(&mut self) {
        for v in self.values.values() {
            v.fill(0);
        }
    }
}
