//! Maps: the state programs share with each other and with the host.
//!
//! Every kind is sized once, when its object is loaded, from the object's
//! [`MapDef`]: [`Map::footprint`] says how many bytes that takes (charged to
//! the object against the global limit) and [`Map::new`] allocates exactly
//! that, fallibly. Nothing allocates afterwards on the fire path.
//!
//! A [`Map`] is what programs get as their map handle: the handle is the
//! map's address, which stays fixed because maps live in a `Box` owned by
//! their loaded object until no program can run any more.
//!
//! Operations come in two flavours. The fire path (helpers) never waits for
//! long: where it needs a lock it tries a bounded number of times and then
//! drops the event. The control path (the host reading, deleting, clearing)
//! may wait, but holds any lock only for one bucket at a time, so a program
//! that needs the same lock waits for one chain copy at most.
//!
//! Drops (a full map or ring buffer, a stack-id collision, a lock that could
//! not be had) are counted per map and reported with its contents.

mod hash;
mod lru;
mod percpu;
mod ringbuf;
mod stack;
mod table;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::abi::consts::errno;
use crate::error::HostError;
use crate::lock::{Guard, SpinLock};
use crate::mem::OutOfMemory;
use crate::object::{MapDef, MapKind};

/// One key and its value(s), as the host reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    /// The key bytes (`key_size` of them; a `u32` index for arrays and
    /// stack-trace maps).
    pub key: Vec<u8>,
    /// The value bytes: `value_size` of them, or for per-CPU maps
    /// `value_size` per CPU, CPU 0 first.
    pub value: Vec<u8>,
}

/// A page of a map's contents.
///
/// Each entry is consistent in itself (copied while its bucket was locked,
/// or in one pass over an array slot); a page is not a point-in-time picture
/// of the whole map, so entries changed while it was read may show old or
/// new values, as with Linux's batch lookups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The entries read.
    pub entries: Vec<MapEntry>,
    /// Where to continue, if the map has more; pass it back as the cursor.
    pub next: Option<u64>,
}

/// Why a map operation failed, in the terms a program sees (an errno) plus
/// whether the failure lost an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// A plain error (bad flags, absent key...): not a drop.
    Errno(u64),
    /// No room: the map is full. A drop.
    Full,
    /// No room: the ring buffer is full. A drop.
    NoSpace,
    /// A lock could not be had in time. A drop.
    Busy,
    /// A different stack holds the stack id. A drop.
    Collision,
}

impl Fail {
    pub(crate) const EEXIST: Fail = Fail::Errno(errno::EEXIST);
    pub(crate) const ENOENT: Fail = Fail::Errno(errno::ENOENT);
    pub(crate) const EINVAL: Fail = Fail::Errno(errno::EINVAL);
    pub(crate) const E2BIG: Fail = Fail::Errno(errno::E2BIG);
    pub(crate) const EFAULT: Fail = Fail::Errno(errno::EFAULT);

    /// The positive error code a helper negates.
    pub(crate) fn errno(self) -> u64 {
        match self {
            Fail::Errno(e) => e,
            // Linux's codes for the same situations.
            Fail::Full => errno::E2BIG,
            Fail::NoSpace => errno::ENOSPC,
            Fail::Busy => errno::EBUSY,
            Fail::Collision => errno::EEXIST,
        }
    }

    fn is_drop(self) -> bool {
        !matches!(self, Fail::Errno(_))
    }
}

/// Which side is taking a lock: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lock {
    /// A helper: try for a bounded time, then drop.
    Fire,
    /// The control path: wait.
    Host,
}

impl Lock {
    #[inline]
    pub(crate) fn take(self, l: &SpinLock) -> Result<Guard<'_>, Fail> {
        match self {
            Lock::Fire => l.try_lock().ok_or(Fail::Busy),
            Lock::Host => Ok(l.lock()),
        }
    }
}

/// `map_update_elem` flags: `ANY`, `NOEXIST` or `EXIST`; nothing else
/// (Linux's `BPF_F_LOCK` needs spin-lock fields capscope does not have).
pub(crate) fn flags_ok(flags: u64) -> Result<(), Fail> {
    if flags <= 2 {
        Ok(())
    } else {
        Err(Fail::EINVAL)
    }
}

enum Imp {
    Hash(hash::HashMap),
    Lru(lru::LruHash),
    PerCpuHash(percpu::PerCpuHash),
    Array(percpu::Array),
    Stack(stack::StackMap),
    Ring(ringbuf::RingBuf),
}

/// A map. Its address is the map handle programs receive.
pub struct Map {
    def: MapDef,
    cpus: usize,
    drops: AtomicU64,
    imp: Imp,
}

/// Definitions [`Map::new`] cannot build. `ProbeObject::validate` already
/// refuses them; this check keeps `Map` sound on its own.
fn check(def: &MapDef) -> Result<(), &'static str> {
    use crate::object::limits::*;
    if def.max_entries == 0 || def.max_entries > MAX_ENTRIES {
        return Err("max_entries out of range");
    }
    match def.kind {
        MapKind::RingBuf => {
            if !def.max_entries.is_power_of_two() || def.max_entries < 4096 {
                return Err("ring buffer size must be a power of two of at least 4096");
            }
            return Ok(());
        }
        MapKind::Array | MapKind::PerCpuArray | MapKind::StackTrace if def.key_size != 4 => {
            return Err("array and stack-trace keys are 4 bytes");
        }
        MapKind::StackTrace
            if !def.value_size.is_multiple_of(8) || def.value_size / 8 > MAX_STACK_DEPTH =>
        {
            return Err("stack trace values are a multiple of 8 bytes");
        }
        _ => {}
    }
    if def.key_size == 0 || def.key_size > MAX_KEY_SIZE {
        return Err("key size out of range");
    }
    if def.value_size == 0 || def.value_size > MAX_VALUE_SIZE {
        return Err("value size out of range");
    }
    Ok(())
}

impl Map {
    /// The bytes a map with this definition takes on a kernel with `cpus`
    /// CPUs, or `None` if the definition is invalid.
    pub fn footprint(def: &MapDef, cpus: usize) -> Option<u64> {
        check(def).ok()?;
        let (k, v, n) = (def.key_size, def.value_size, def.max_entries);
        let data = match def.kind {
            MapKind::Hash => hash::HashMap::footprint(k, v, n),
            MapKind::LruHash => lru::LruHash::footprint(k, v, n),
            MapKind::PerCpuHash => percpu::PerCpuHash::footprint(k, v, n, cpus),
            MapKind::Array => percpu::Array::footprint(v, n, 1),
            MapKind::PerCpuArray => percpu::Array::footprint(v, n, cpus),
            MapKind::StackTrace => stack::StackMap::footprint(v, n),
            MapKind::RingBuf => ringbuf::RingBuf::footprint(n),
        };
        Some(data + core::mem::size_of::<Map>() as u64)
    }

    /// Allocate a map. `seed` seeds its hash function.
    pub(crate) fn new(def: &MapDef, cpus: usize, seed: u64) -> Result<Map, MapNewError> {
        check(def).map_err(MapNewError::Invalid)?;
        let (k, v, n) = (def.key_size, def.value_size, def.max_entries);
        let imp = match def.kind {
            MapKind::Hash => Imp::Hash(hash::HashMap::new(k, v, n, seed)?),
            MapKind::LruHash => Imp::Lru(lru::LruHash::new(k, v, n, seed)?),
            MapKind::PerCpuHash => Imp::PerCpuHash(percpu::PerCpuHash::new(k, v, n, cpus, seed)?),
            MapKind::Array => Imp::Array(percpu::Array::new(v, n, 1)?),
            MapKind::PerCpuArray => Imp::Array(percpu::Array::new(v, n, cpus)?),
            MapKind::StackTrace => Imp::Stack(stack::StackMap::new(v, n, seed)?),
            MapKind::RingBuf => Imp::Ring(ringbuf::RingBuf::new(n)?),
        };
        let mut def = def.clone();
        // The display hints are the host's; the kernel keeps only the shape.
        def.display = Default::default();
        Ok(Map {
            def,
            cpus,
            drops: AtomicU64::new(0),
            imp,
        })
    }

    /// The handle programs receive: this map's address.
    pub fn handle(&self) -> u64 {
        self as *const Map as u64
    }

    /// The definition (name, kind and sizes) the map was made from.
    pub fn def(&self) -> &MapDef {
        &self.def
    }

    /// Events lost on this map: full, ring buffer full, stack-id collision,
    /// or a lock not had in time.
    pub fn drops(&self) -> u64 {
        self.drops.load(Relaxed)
    }

    /// Values per entry: the CPU count for per-CPU maps, else 1.
    pub fn values_per_entry(&self) -> usize {
        if self.def.kind.per_cpu() {
            self.cpus
        } else {
            1
        }
    }

    /// Entries in use (for arrays, all of them; for ring buffers, the bytes
    /// waiting to be drained).
    pub fn len(&self) -> u64 {
        match &self.imp {
            Imp::Hash(m) => m.len() as u64,
            Imp::Lru(m) => m.len() as u64,
            Imp::PerCpuHash(m) => m.len() as u64,
            Imp::Array(m) => m.len() as u64,
            Imp::Stack(m) => m.len() as u64,
            Imp::Ring(m) => m.pending(),
        }
    }

    /// True when [`Map::len`] is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn count(&self, r: Result<(), Fail>) -> u64 {
        match r {
            Ok(()) => 0,
            Err(f) => {
                if f.is_drop() {
                    self.drops.fetch_add(1, Relaxed);
                }
                f.errno().wrapping_neg()
            }
        }
    }

    // ---- fire path (helpers) ----

    /// `map_lookup_elem`: a pointer to the value (this CPU's copy for
    /// per-CPU maps), or null.
    #[inline]
    pub(crate) fn lookup(&self, key: &[u8], cpu: usize) -> *mut u8 {
        let r = match &self.imp {
            Imp::PerCpuHash(m) => m.lookup(key, cpu),
            Imp::Array(m) => Ok(m.lookup(key, if self.def.kind.per_cpu() { cpu } else { 0 })),
            Imp::Hash(m) => m.lookup(key),
            Imp::Lru(m) => m.lookup(key),
            Imp::Stack(_) | Imp::Ring(_) => Err(Fail::EINVAL),
        };
        match r {
            Ok(p) => p,
            Err(f) => {
                if f.is_drop() {
                    self.drops.fetch_add(1, Relaxed);
                }
                core::ptr::null_mut()
            }
        }
    }

    /// `map_update_elem`: 0 or a negated errno.
    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: usize) -> u64 {
        let r = match &self.imp {
            Imp::PerCpuHash(m) => m.update(key, value, flags, cpu),
            Imp::Array(m) => m.update(
                key,
                value,
                flags,
                if self.def.kind.per_cpu() { cpu } else { 0 },
            ),
            Imp::Hash(m) => m.update(key, value, flags, Lock::Fire),
            Imp::Lru(m) => m.update(key, value, flags, Lock::Fire),
            Imp::Stack(_) | Imp::Ring(_) => Err(Fail::EINVAL),
        };
        self.count(r)
    }

    /// `map_delete_elem`: 0 or a negated errno.
    pub(crate) fn delete(&self, key: &[u8]) -> u64 {
        let r = match &self.imp {
            Imp::PerCpuHash(m) => m.delete(key, Lock::Fire),
            Imp::Hash(m) => m.delete(key, Lock::Fire),
            Imp::Lru(m) => m.delete(key, Lock::Fire),
            Imp::Array(_) | Imp::Stack(_) | Imp::Ring(_) => Err(Fail::EINVAL),
        };
        self.count(r)
    }

    /// For an array or per-CPU array: where its values live, so the JIT can
    /// inline lookups. Entry `k` of CPU `c` is at `values + c * cpu_stride
    /// + k * value_stride` for every `k < max_entries` and `c < cpus`, for
    /// the map's whole life, which is exactly what `map_lookup_elem`
    /// returns on CPU `c` (a plain array has one copy: `cpu_stride` 0).
    pub(crate) fn array_layout(&self) -> Option<capscope_jit::ArrayLayout> {
        match &self.imp {
            Imp::Array(a) => Some(a.layout(self.def.kind.per_cpu())),
            _ => None,
        }
    }

    /// The deepest stack a stack-trace map holds (0 for other kinds).
    pub(crate) fn stack_depth(&self) -> usize {
        match &self.imp {
            Imp::Stack(m) => m.depth(),
            _ => 0,
        }
    }

    /// `get_stackid` after the walk: the id, or a negated errno.
    pub(crate) fn stack_id(&self, ips: &[u64], flags: u64) -> u64 {
        match &self.imp {
            Imp::Stack(m) => match m.get_id(ips, flags) {
                Ok(id) => id as u64,
                Err(f) => self.count(Err(f)),
            },
            _ => self.count(Err(Fail::EINVAL)),
        }
    }

    /// `ringbuf_output`: 0 or a negated errno.
    pub(crate) fn output(&self, data: &[u8]) -> u64 {
        let r = match &self.imp {
            Imp::Ring(m) => m.output(data),
            _ => Err(Fail::EINVAL),
        };
        self.count(r)
    }

    // ---- control path (the host) ----

    fn check_key(&self, key: &[u8]) -> Result<(), HostError> {
        if key.len() != self.def.key_size as usize {
            return Err(HostError::KeySize {
                expected: self.def.key_size,
                got: key.len() as u32,
            });
        }
        Ok(())
    }

    /// Read up to `max` entries starting at `cursor` (0 for the start).
    pub fn read(&self, cursor: u64, max: usize) -> Result<Page, HostError> {
        let mut out = Page::default();
        let max = max.max(1);
        match &self.imp {
            Imp::Hash(m) => m.page(cursor, max, &mut out),
            Imp::Lru(m) => m.page(cursor, max, &mut out),
            Imp::PerCpuHash(m) => m.page(cursor, max, &mut out),
            Imp::Array(m) => m.page(cursor, max, &mut out),
            Imp::Stack(m) => m.page(cursor, max, &mut out),
            Imp::Ring(_) => {
                return Err(HostError::WrongKind {
                    kind: self.def.kind,
                });
            }
        }
        Ok(out)
    }

    /// Every entry, page by page.
    pub fn read_all(&self) -> Result<Vec<MapEntry>, HostError> {
        let mut all = Vec::new();
        let mut cursor = Some(0);
        while let Some(c) = cursor {
            let page = self.read(c, 256)?;
            all.extend(page.entries);
            cursor = page.next;
        }
        Ok(all)
    }

    /// Delete one key (on every CPU). Array entries cannot be deleted;
    /// "deleting" one zeroes it, as bpftrace's `delete` does.
    pub fn delete_key(&self, key: &[u8]) -> Result<(), HostError> {
        self.check_key(key)?;
        let r = match &self.imp {
            Imp::Hash(m) => m.delete(key, Lock::Host),
            Imp::Lru(m) => m.delete(key, Lock::Host),
            Imp::PerCpuHash(m) => m.delete(key, Lock::Host),
            Imp::Array(m) => m.zero_key(key),
            Imp::Stack(m) => m.delete(key, Lock::Host),
            Imp::Ring(_) => {
                return Err(HostError::WrongKind {
                    kind: self.def.kind,
                });
            }
        };
        r.map_err(|_| HostError::NoSuchKey)
    }

    /// Insert or replace a key from the host (all CPUs' copies of a per-CPU
    /// value get `value`). For preloading filters and tests.
    pub fn update_key(&self, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.check_key(key)?;
        if value.len() != self.def.value_size as usize {
            return Err(HostError::ValueSize {
                expected: self.def.value_size,
                got: value.len() as u32,
            });
        }
        let r = match &self.imp {
            Imp::Hash(m) => m.update(key, value, 0, Lock::Host),
            Imp::Lru(m) => m.update(key, value, 0, Lock::Host),
            Imp::PerCpuHash(m) => (0..self.cpus).try_for_each(|c| m.update(key, value, 0, c)),
            Imp::Array(m) => (0..if self.def.kind.per_cpu() {
                self.cpus
            } else {
                1
            })
                .try_for_each(|c| m.update(key, value, 0, c)),
            Imp::Stack(_) | Imp::Ring(_) => {
                return Err(HostError::WrongKind {
                    kind: self.def.kind,
                });
            }
        };
        r.map_err(|f| match f {
            Fail::Full | Fail::NoSpace | Fail::Busy => HostError::MapFull,
            _ => HostError::NoSuchKey,
        })
    }

    /// Remove every entry (arrays: zero every value; ring buffers: discard
    /// waiting records).
    pub fn clear(&self) {
        match &self.imp {
            Imp::Hash(m) => m.clear(),
            Imp::Lru(m) => m.clear(),
            Imp::PerCpuHash(m) => m.clear(),
            Imp::Array(m) => m.zero(),
            Imp::Stack(m) => m.clear(),
            Imp::Ring(m) => m.clear(),
        }
    }

    /// Zero every value, keeping the keys (`zero(@map)`).
    pub fn zero(&self) {
        match &self.imp {
            Imp::Hash(m) => m.zero(),
            Imp::Lru(m) => m.zero(),
            Imp::PerCpuHash(m) => m.zero(),
            Imp::Array(m) => m.zero(),
            Imp::Stack(m) => m.clear(),
            Imp::Ring(m) => m.clear(),
        }
    }

    /// Hand waiting ring-buffer records to `f`, oldest first, until about
    /// `max_bytes` are out. Returns whether records remain.
    pub fn drain(&self, max_bytes: usize, f: &mut dyn FnMut(&[u8])) -> Result<bool, HostError> {
        match &self.imp {
            Imp::Ring(m) => Ok(m.drain(max_bytes, f)),
            _ => Err(HostError::WrongKind {
                kind: self.def.kind,
            }),
        }
    }
}

/// Why [`Map::new`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapNewError {
    /// The heap could not provide the memory.
    OutOfMemory,
    /// The definition is invalid.
    Invalid(&'static str),
}

impl From<OutOfMemory> for MapNewError {
    fn from(_: OutOfMemory) -> Self {
        MapNewError::OutOfMemory
    }
}

#[cfg(test)]
mod tests;
