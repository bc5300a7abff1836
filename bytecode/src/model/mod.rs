//! The reference environment: every map kind and every helper, with Linux
//! semantics, kept simple enough to be obviously right.
//!
//! [`ModelEnv`] is what the interpreter runs against in tests and in
//! `capscope exec`, and, through the `extern "C"` shims of [`native`], what
//! JIT-compiled code calls. Both paths go through one implementation
//! ([`ModelEnv`]'s helper dispatch), so an interpreter run and a JIT run of
//! the same program on equal environments end in equal [`Snapshot`]s.
//!
//! # Semantics
//! - **hash / percpu_hash / lru_hash**: fixed capacity; `map_update_elem`
//!   honours `ANY`/`NOEXIST`/`EXIST` (`-EEXIST`, `-ENOENT`), fails with
//!   `-E2BIG` when full (counted as a drop), except that an LRU hash evicts
//!   its least recently used entry (lookups and updates count as uses).
//!   Per-CPU maps keep one value per CPU; lookups and updates from a program
//!   see the current CPU's copy, and a new entry starts zeroed on the others.
//! - **array / percpu_array**: every index below `max_entries` exists and
//!   starts zeroed; out-of-range lookups give null, out-of-range updates
//!   `-E2BIG`, `NOEXIST` updates `-EEXIST`, deletes `-EINVAL`.
//! - **ringbuf**: records framed as in Linux (8-byte header, payload rounded
//!   up to 8 bytes) in `max_entries` bytes; a record that does not fit is
//!   dropped (`-ENOSPC`, counted). The host takes records with
//!   [`ModelEnv::take_records`].
//! - **stack_trace**: see `get_stackid` in the helper table; frames come from
//!   [`EventState`], user or kernel by the `USER_STACK` flag.
//! - Value memory is never freed while the environment lives (deleted
//!   entries' memory is reused by later inserts), so pointers programs hold
//!   never dangle: the guarantee Linux gets from preallocation and RCU.
//!
//! Helper argument errors that the checked interpreter or the verifier
//! should have caught (a non-map handle, a map of the wrong kind, an absurd
//! size) are reported as [`TrapKind`]s, never acted on.

mod array;
mod hash;
mod helpers;
#[cfg(feature = "std")]
pub mod native;
mod raw;
mod ringbuf;
mod stacks;

pub use ringbuf::{RECORD_HEADER, framed_len};

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::abi::context::EventHeader;
use crate::insn::{HelperId, MapIdx};
use crate::interp::{Env, TrapKind};
use crate::object::{MapDef, MapKind};

/// A positive Linux error code; helpers return it negated.
pub(crate) type Errno = u64;

/// The deterministic clock behind `ktime_get_ns`: the `n`-th read (from 0)
/// returns `start_ns + n * step_ns`, so time advances between reads and
/// every run of a program sees the same times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// The first reading.
    pub start_ns: u64,
    /// How much each reading advances.
    pub step_ns: u64,
}

/// A range of fake memory that `probe_read_user` / `probe_read_kernel` can
/// read; reads outside every range fail with `-EFAULT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeMemory {
    /// The address of the first byte.
    pub addr: u64,
    /// The contents.
    pub bytes: Vec<u8>,
}

/// What helpers see of the event being traced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventState {
    /// The current CPU (`get_smp_processor_id`, the per-CPU copy in use).
    pub cpu: u32,
    /// How many CPUs per-CPU maps keep values for (at least `cpu + 1`).
    pub ncpus: u32,
    /// The current task id (high half of `get_current_pid_tgid`).
    pub task: u32,
    /// The current thread id (low half of `get_current_pid_tgid`).
    pub thread: u32,
    /// The current task's name, NUL-padded (`get_current_comm`).
    pub comm: [u8; 16],
    /// `ktime_get_ns`.
    pub clock: Clock,
    /// Kernel stack frames, innermost first (`get_stackid`).
    pub kernel_stack: Vec<u64>,
    /// User stack frames, innermost first (`get_stackid` with `USER_STACK`).
    pub user_stack: Vec<u64>,
    /// What `probe_read_user` can read.
    pub user_memory: Vec<FakeMemory>,
    /// What `probe_read_kernel` can read.
    pub kernel_memory: Vec<FakeMemory>,
}

/// The default event time, also the clock's first reading.
pub const DEFAULT_TIME_NS: u64 = 1_000_000_000;

impl Default for EventState {
    fn default() -> EventState {
        EventState {
            cpu: 0,
            ncpus: 1,
            task: 1,
            thread: 1,
            comm: comm_bytes("init"),
            clock: Clock {
                start_ns: DEFAULT_TIME_NS,
                step_ns: 1_000,
            },
            // Recognizable synthetic frames: kernel text addresses in the
            // higher half, user addresses in the lower.
            kernel_stack: alloc::vec![0xffff_ffff_8010_1000, 0xffff_ffff_8010_2000],
            user_stack: alloc::vec![0x40_1000, 0x40_2000, 0x40_3000],
            user_memory: Vec::new(),
            kernel_memory: Vec::new(),
        }
    }
}

/// A task name as `get_current_comm` copies it: at most 15 bytes, NUL-padded.
pub fn comm_bytes(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let n = name.len().min(15);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

impl EventState {
    /// The default state, with the cpu, task and thread of an event header
    /// and the clock starting at its timestamp.
    pub fn for_header(h: &EventHeader) -> EventState {
        let d = EventState::default();
        EventState {
            cpu: h.cpu,
            ncpus: d.ncpus.max(h.cpu.saturating_add(1)),
            task: h.task,
            thread: h.thread,
            clock: Clock {
                start_ns: h.timestamp_ns,
                ..d.clock
            },
            ..d
        }
    }
}

/// One map's contents at a point in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSnapshot {
    /// The map's name.
    pub name: String,
    /// Its kind.
    pub kind: MapKind,
    /// Entries sorted by key. Arrays list only entries with a non-zero byte.
    /// Stack-trace maps list stacks by id (key: the `u32` id).
    pub entries: Vec<Entry>,
    /// Ring buffers: the records not yet taken, oldest first (payloads only).
    pub records: Vec<Vec<u8>>,
    /// Updates or records dropped for lack of space.
    pub drops: u64,
}

/// One key and its value (one value per CPU for per-CPU maps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key bytes.
    pub key: Vec<u8>,
    /// The value bytes; for per-CPU maps one per CPU, in CPU order.
    pub values: Vec<Vec<u8>>,
}

/// Every map's contents, in map-table order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// One per map.
    pub maps: Vec<MapSnapshot>,
}

enum Store {
    Hash(hash::HashStore),
    Array(array::ArrayStore),
    RingBuf(ringbuf::RingBuf),
    Stacks(stacks::StackStore),
}

struct MapState {
    def: MapDef,
    store: Store,
    drops: u64,
}

/// The reference environment: maps plus the event helpers see.
pub struct ModelEnv {
    /// Boxed so each map has a stable address, its handle, whatever
    /// happens to the vector.
    #[allow(clippy::vec_box)]
    maps: Vec<Box<MapState>>,
    event: EventState,
    clock_reads: u64,
}

impl ModelEnv {
    /// An environment with these maps (indexed as `lddw rX, map[N]` names
    /// them), all empty, and this event. Definitions should have passed
    /// [`crate::object::ProbeObject::validate`]; others still never panic.
    pub fn new(maps: &[MapDef], event: EventState) -> ModelEnv {
        let mut event = event;
        event.ncpus = event.ncpus.max(event.cpu.saturating_add(1));
        let copies = event.ncpus;
        let maps = maps
            .iter()
            .map(|def| {
                let store = match def.kind {
                    MapKind::Hash | MapKind::LruHash => Store::Hash(hash::HashStore::new(
                        def.value_size,
                        def.max_entries,
                        1,
                        def.kind == MapKind::LruHash,
                    )),
                    MapKind::PerCpuHash => Store::Hash(hash::HashStore::new(
                        def.value_size,
                        def.max_entries,
                        copies,
                        false,
                    )),
                    MapKind::Array => {
                        Store::Array(array::ArrayStore::new(def.value_size, def.max_entries, 1))
                    }
                    MapKind::PerCpuArray => Store::Array(array::ArrayStore::new(
                        def.value_size,
                        def.max_entries,
                        copies,
                    )),
                    MapKind::RingBuf => Store::RingBuf(ringbuf::RingBuf::new(def.max_entries)),
                    MapKind::StackTrace => {
                        Store::Stacks(stacks::StackStore::new(def.value_size, def.max_entries))
                    }
                };
                Box::new(MapState {
                    def: def.clone(),
                    store,
                    drops: 0,
                })
            })
            .collect();
        ModelEnv {
            maps,
            event,
            clock_reads: 0,
        }
    }

    /// The event helpers see.
    pub fn event(&self) -> &EventState {
        &self.event
    }

    /// Change the event between runs (another CPU, task, clock...). The
    /// number of per-CPU copies is fixed when the environment is made; a
    /// later `cpu` beyond it uses the last copy.
    pub fn event_mut(&mut self) -> &mut EventState {
        &mut self.event
    }

    /// The map definitions, in map-table order.
    pub fn defs(&self) -> impl Iterator<Item = &MapDef> {
        self.maps.iter().map(|m| &m.def)
    }

    /// The handle of map `idx` (what `lddw rX, map[idx]` loads).
    pub fn handle(&self, idx: MapIdx) -> Option<u64> {
        self.maps.get(idx.as_usize()).map(|m| handle_of(m))
    }

    fn index_of_handle(&self, handle: u64) -> Option<usize> {
        self.maps.iter().position(|m| handle_of(m) == handle)
    }

    /// Every map's contents.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            maps: self
                .maps
                .iter()
                .map(|m| {
                    let (entries, records) = match &m.store {
                        Store::Hash(h) => (h.entries(), Vec::new()),
                        Store::Array(a) => (a.entries(), Vec::new()),
                        Store::Stacks(s) => (s.entries(), Vec::new()),
                        Store::RingBuf(r) => (Vec::new(), r.records()),
                    };
                    MapSnapshot {
                        name: m.def.name.clone(),
                        kind: m.def.kind,
                        entries: entries
                            .into_iter()
                            .map(|(key, values)| Entry { key, values })
                            .collect(),
                        records,
                        drops: m.drops,
                    }
                })
                .collect(),
        }
    }

    /// Take (and free the space of) every record of ring buffer `idx`;
    /// empty for other kinds.
    pub fn take_records(&mut self, idx: MapIdx) -> Vec<Vec<u8>> {
        match self.maps.get_mut(idx.as_usize()).map(|m| &mut m.store) {
            Some(Store::RingBuf(r)) => r.take(),
            _ => Vec::new(),
        }
    }

    /// Bytes in use in ring buffer `idx`, framing included.
    pub fn ringbuf_used(&self, idx: MapIdx) -> Option<u64> {
        match self.maps.get(idx.as_usize()).map(|m| &m.store) {
            Some(Store::RingBuf(r)) => Some(r.used()),
            _ => None,
        }
    }

    /// Delete every entry of map `idx` (the host side of `clear(@map)`):
    /// arrays are zeroed, since their entries always exist.
    pub fn clear(&mut self, idx: MapIdx) {
        if let Some(m) = self.maps.get_mut(idx.as_usize()) {
            match &mut m.store {
                Store::Hash(h) => h.clear(),
                Store::Array(a) => a.zero(),
                Store::Stacks(s) => s.clear(),
                Store::RingBuf(_) => {}
            }
        }
    }

    /// Zero every value of map `idx`, keeping the keys (`zero(@map)`).
    pub fn zero(&mut self, idx: MapIdx) {
        if let Some(m) = self.maps.get_mut(idx.as_usize()) {
            match &mut m.store {
                Store::Hash(h) => h.zero(),
                Store::Array(a) => a.zero(),
                Store::Stacks(_) | Store::RingBuf(_) => {}
            }
        }
    }
}

fn handle_of(m: &MapState) -> u64 {
    // The map's own address: real, unique, stable (it is boxed), and never
    // turned back into a pointer; helpers look it up.
    (m as *const MapState).addr() as u64
}

// SAFETY: (1) map values are boxes of cells that are never freed while
// the environment lives (see the module docs), so a returned value pointer
// stays valid; the model touches them only through shared references to
// the cells, so no `&mut` ever invalidates a pointer a program holds. (2) the helpers in `helpers.rs` access program memory
// only through `raw::read` of key/value/ReadMem arguments and `raw::write`
// of WriteMem arguments within their size. (3) handles are the maps'
// addresses, and `map_def` answers only for those.
#[allow(unsafe_code)]
unsafe impl Env for ModelEnv {
    fn map_handle(&mut self, idx: MapIdx) -> Option<u64> {
        self.handle(idx)
    }

    fn map_def(&self, handle: u64) -> Option<&MapDef> {
        self.index_of_handle(handle).map(|i| &self.maps[i].def)
    }

    unsafe fn call(&mut self, id: HelperId, args: [u64; 5]) -> Result<u64, TrapKind> {
        // SAFETY: our caller upholds the helper table's pointer contract.
        unsafe { self.dispatch(id, args) }
    }
}
