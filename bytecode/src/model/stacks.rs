//! The stack-trace map behind `get_stackid`.
//!
//! A stack's home id is a hash of its frames modulo `max_entries`; it is
//! stored under the first free id of the [`PROBES`] from its home on, and
//! storing the same stack again returns the same id. When all of them hold
//! different stacks it fails with `-EEXIST` (counted as a drop) unless the
//! caller passes `REUSE_STACKID`, which replaces the stack at its home id.
//! Linux probes only the home id; probing a few keeps a handful of stacks
//! from colliding whatever the hash. With `FAST_STACK_CMP` only the hashes
//! are compared.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::Errno;
use crate::abi::consts::errno;
use crate::abi::helpers::{STACK_ID_PROBES as PROBES, stack_flags};

struct Stored {
    hash: u64,
    frames: Vec<u64>,
}

pub(crate) struct StackStore {
    depth: usize,
    max_entries: u32,
    stacks: BTreeMap<u32, Stored>,
}

/// FNV-1a over the frames' little-endian bytes: simple and deterministic,
/// so interpreter and JIT runs agree on ids.
fn hash(frames: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in frames.iter().flat_map(|f| f.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl StackStore {
    pub(crate) fn new(value_size: u32, max_entries: u32) -> StackStore {
        StackStore {
            depth: (value_size / 8) as usize,
            max_entries: max_entries.max(1),
            stacks: BTreeMap::new(),
        }
    }

    /// Store the walked stack `frames` and return its id.
    pub(crate) fn get_stackid(&mut self, frames: &[u64], flags: u64) -> Result<u32, Errno> {
        let known = stack_flags::SKIP_MASK
            | stack_flags::USER_STACK
            | stack_flags::FAST_STACK_CMP
            | stack_flags::REUSE_STACKID;
        if flags & !known != 0 {
            return Err(errno::EINVAL);
        }
        let skip = (flags & stack_flags::SKIP_MASK) as usize;
        let frames: Vec<u64> = frames.iter().skip(skip).take(self.depth).copied().collect();
        if frames.is_empty() {
            return Err(errno::EFAULT);
        }
        let h = hash(&frames);
        let home = (h % u64::from(self.max_entries)) as u32;
        for i in 0..PROBES.min(self.max_entries) {
            let id = ((u64::from(home) + u64::from(i)) % u64::from(self.max_entries)) as u32;
            let Some(old) = self.stacks.get(&id) else {
                self.stacks.insert(id, Stored { hash: h, frames });
                return Ok(id);
            };
            let same = if flags & stack_flags::FAST_STACK_CMP != 0 {
                old.hash == h
            } else {
                old.frames == frames
            };
            if same {
                return Ok(id);
            }
        }
        if flags & stack_flags::REUSE_STACKID == 0 {
            return Err(errno::EEXIST);
        }
        self.stacks.insert(home, Stored { hash: h, frames });
        Ok(home)
    }

    /// Every stack by id, each value `depth * 8` bytes, zero-padded.
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        self.stacks
            .iter()
            .map(|(id, s)| {
                let mut v: Vec<u8> = s.frames.iter().flat_map(|f| f.to_le_bytes()).collect();
                v.resize(self.depth * 8, 0);
                (id.to_le_bytes().to_vec(), alloc::vec![v])
            })
            .collect()
    }

    pub(crate) fn clear(&mut self) {
        self.stacks.clear();
    }
}
