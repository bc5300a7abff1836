//! `percpu_hash` and `percpu_array`: one copy per CPU, what aggregations use.
//!
//! A per-CPU hash is one [`Table`] per CPU, all with the same seed and
//! bucket count. Only CPU `c`'s programs insert into table `c`, and a CPU
//! runs one program at a time, so its lookups need no lock at all: nothing
//! can reuse one of its elements while it walks, because reuse happens only
//! in its own inserts. Inserts and deletes take the table's lock, which
//! only the host (reading, deleting, clearing) and deletes from other CPUs
//! ever contend for. The hot path of `count()` is therefore: hash, walk,
//! compare, return a pointer that no other CPU writes.
//!
//! Differences from Linux, where a per-CPU hash has one shared key set:
//! a key exists on the CPUs that inserted it, `max_entries` bounds each CPU's
//! table, and a lookup on a CPU that never inserted the key misses (the
//! language's aggregations then insert, which gives the same merged result).
//! Deletes, from a program or the host, remove the key on every CPU. The
//! host sees one entry per key with every CPU's value (zero where absent).

use alloc::vec::Vec;
use core::sync::atomic::AtomicU64;

use super::table::{Full, Table};
use super::{Fail, Lock, MapEntry, Page, flags_ok};
use crate::abi::helpers::update_flags;
use crate::lock::SpinLock;
use crate::mem::{self, OutOfMemory};

pub(crate) struct PerCpuHash {
    tables: Vec<Table>,
    locks: Vec<SpinLock>,
    seed: u64,
    value_size: usize,
}

impl PerCpuHash {
    pub(crate) fn footprint(key: u32, value: u32, cap: u32, cpus: usize) -> u64 {
        Table::footprint(key, value, cap) * cpus as u64 + cpus as u64
    }

    pub(crate) fn new(
        key: u32,
        value: u32,
        cap: u32,
        cpus: usize,
        seed: u64,
    ) -> Result<Self, OutOfMemory> {
        let mut tables = Vec::new();
        tables.try_reserve_exact(cpus).map_err(|_| OutOfMemory)?;
        for _ in 0..cpus {
            tables.push(Table::new(key, value, cap)?);
        }
        Ok(PerCpuHash {
            tables,
            locks: mem::try_vec(cpus, SpinLock::new)?,
            seed,
            value_size: value as usize,
        })
    }

    fn bucket(&self, key: &[u8]) -> usize {
        self.tables
            .first()
            .map_or(0, |t| t.bucket_of(mem::hash(key, self.seed)))
    }

    #[inline]
    pub(crate) fn lookup(&self, key: &[u8], cpu: usize) -> Result<*mut u8, Fail> {
        let t = self.tables.get(cpu).ok_or(Fail::EINVAL)?;
        // Every CPU's table has the same bucket count.
        let b = t.bucket_of(mem::hash(key, self.seed));
        Ok(t.find(b, key)
            .map_or(core::ptr::null_mut(), |i| mem::ptr(t.value(i))))
    }

    pub(crate) fn update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), Fail> {
        flags_ok(flags)?;
        let t = self.tables.get(cpu).ok_or(Fail::EINVAL)?;
        let b = self.bucket(key);
        // Only this CPU inserts into its table, so a miss here stays a miss
        // until the insert below.
        match t.find(b, key) {
            Some(_) if flags == update_flags::NOEXIST => Err(Fail::EEXIST),
            Some(i) => {
                mem::store(t.value(i), value);
                Ok(())
            }
            None if flags == update_flags::EXIST => Err(Fail::ENOENT),
            None => {
                let _g = Lock::Fire.take(&self.locks[cpu])?;
                t.insert(b, key, Some(value))
                    .map(drop)
                    .map_err(|Full| Fail::Full)
            }
        }
    }

    /// Remove `key` from every CPU's table.
    pub(crate) fn delete(&self, key: &[u8], how: Lock) -> Result<(), Fail> {
        let b = self.bucket(key);
        let mut found = false;
        for (t, l) in self.tables.iter().zip(&self.locks) {
            let _g = how.take(l)?;
            found |= t.remove(b, key).is_some();
        }
        if found { Ok(()) } else { Err(Fail::ENOENT) }
    }

    pub(crate) fn len(&self) -> u32 {
        self.tables.iter().map(Table::len).max().unwrap_or(0)
    }

    /// One entry per key, bucket by bucket: a key lives in the same bucket
    /// of every CPU's table, so merging needs no index.
    pub(crate) fn page(&self, cursor: u64, max: usize, out: &mut Page) {
        let vs = self.value_size;
        let ncpu = self.tables.len();
        let buckets = self.tables.first().map_or(0, Table::buckets);
        let mut b = cursor as usize;
        let mut key = Vec::new();
        while b < buckets && out.entries.len() < max {
            let first = out.entries.len();
            for (cpu, (t, l)) in self.tables.iter().zip(&self.locks).enumerate() {
                let _g = l.lock();
                t.for_each(b, |i| {
                    key.clear();
                    mem::load_into(t.key(i), t.key_size(), &mut key);
                    let at = match out.entries[first..].iter().position(|e| e.key == key) {
                        Some(p) => first + p,
                        None => {
                            out.entries.push(MapEntry {
                                key: key.clone(),
                                value: alloc::vec![0; vs * ncpu],
                            });
                            out.entries.len() - 1
                        }
                    };
                    mem::load(
                        t.value(i),
                        &mut out.entries[at].value[cpu * vs..(cpu + 1) * vs],
                    );
                });
            }
            b += 1;
        }
        out.next = (b < buckets).then_some(b as u64);
    }

    pub(crate) fn clear(&self) {
        for (t, l) in self.tables.iter().zip(&self.locks) {
            for b in 0..t.buckets() {
                let _g = l.lock();
                t.clear_bucket(b);
            }
        }
    }

    pub(crate) fn zero(&self) {
        for (t, l) in self.tables.iter().zip(&self.locks) {
            for b in 0..t.buckets() {
                let _g = l.lock();
                t.for_each(b, |i| mem::zero(t.value(i)));
            }
        }
    }
}

/// `array` (`cpus == 1`) and `percpu_array`: `cpus` rows of `max_entries`
/// values, indexed by a `u32` key. Every entry exists and starts zeroed;
/// nothing is ever inserted or deleted, so no operation takes a lock.
pub(crate) struct Array {
    data: Vec<AtomicU64>,
    n: u32,
    vw: usize,
    value_size: usize,
    cpus: usize,
}

impl Array {
    pub(crate) fn footprint(value: u32, n: u32, cpus: usize) -> u64 {
        mem::words_for(value as usize) as u64 * 8 * n as u64 * cpus as u64
    }

    pub(crate) fn new(value: u32, n: u32, cpus: usize) -> Result<Self, OutOfMemory> {
        let vw = mem::words_for(value as usize);
        Ok(Array {
            data: mem::words(vw * n as usize * cpus)?,
            n,
            vw,
            value_size: value as usize,
            cpus,
        })
    }

    fn index(key: &[u8]) -> u32 {
        mem::word(key, 0) as u32
    }

    #[inline(always)]
    fn slot(&self, idx: u32, cpu: usize) -> Option<&[AtomicU64]> {
        if idx >= self.n || cpu >= self.cpus {
            return None;
        }
        let s = (cpu * self.n as usize + idx as usize) * self.vw;
        self.data.get(s..s + self.vw)
    }

    #[inline(always)]
    pub(crate) fn lookup(&self, key: &[u8], cpu: usize) -> *mut u8 {
        self.slot(Self::index(key), cpu)
            .map_or(core::ptr::null_mut(), mem::ptr)
    }

    pub(crate) fn update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), Fail> {
        flags_ok(flags)?;
        let slot = self.slot(Self::index(key), cpu).ok_or(Fail::E2BIG)?;
        if flags == update_flags::NOEXIST {
            return Err(Fail::EEXIST);
        }
        mem::store(slot, value);
        Ok(())
    }

    /// Where the rows live (see [`super::Map::array_layout`]); `per_cpu`
    /// says whether lookups pick the calling CPU's row or always row 0.
    pub(crate) fn layout(&self, per_cpu: bool) -> capscope_jit::ArrayLayout {
        capscope_jit::ArrayLayout {
            values: mem::ptr(&self.data) as u64,
            value_stride: (self.vw * 8) as u32,
            max_entries: self.n,
            // Row `cpu` starts `cpu * n * vw` words in (see `slot`).
            cpu_stride: if per_cpu {
                (self.n as usize * self.vw * 8) as u64
            } else {
                0
            },
        }
    }

    /// A key is "present" in an array when it is in range.
    pub(crate) fn len(&self) -> u32 {
        self.n
    }

    pub(crate) fn page(&self, cursor: u64, max: usize, out: &mut Page) {
        let mut i = cursor.min(self.n as u64) as u32;
        while i < self.n && out.entries.len() < max {
            let mut e = MapEntry {
                key: i.to_le_bytes().to_vec(),
                value: Vec::with_capacity(self.value_size * self.cpus),
            };
            for cpu in 0..self.cpus {
                if let Some(s) = self.slot(i, cpu) {
                    mem::load_into(s, self.value_size, &mut e.value);
                }
            }
            out.entries.push(e);
            i += 1;
        }
        out.next = (i < self.n).then_some(i as u64);
    }

    /// Arrays cannot delete; clearing zeroes, as in bpftrace.
    pub(crate) fn zero(&self) {
        mem::zero(&self.data);
    }

    /// Zero one entry on every CPU (the host's delete).
    pub(crate) fn zero_key(&self, key: &[u8]) -> Result<(), Fail> {
        let idx = Self::index(key);
        if idx >= self.n {
            return Err(Fail::ENOENT);
        }
        for cpu in 0..self.cpus {
            if let Some(s) = self.slot(idx, cpu) {
                mem::zero(s);
            }
        }
        Ok(())
    }
}
