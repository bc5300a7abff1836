//! The registry: loaded objects, and the snapshot of attached programs the
//! fire path reads.
//!
//! Loaded objects live in a table behind a control-path lock, each as an
//! `Arc` so a host request can keep reading an object's maps without
//! holding the table. Every change to the table (attach, detach) builds a
//! complete new [`Snapshot`] of programs by attach point and publishes it
//! with one atomic store, so an object's programs appear at every point at
//! once and disappear at once; a firing sees the old snapshot or the new
//! one, never a mixture and never a half-built program. The old snapshot is
//! freed after a grace period ([`crate::epoch`]); a detached object is
//! handed to the host only after that grace period and after its `END`
//! programs ran, so nothing else can touch its maps any more.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::*};

use serde::{Deserialize, Serialize};

use crate::abi::AttachPoint;
use crate::budget::Charge;
use crate::epoch;
use crate::error::{HostError, LoadError};
use crate::fire::{self, ARMED, MISSED, Running, SNAPSHOT};
use crate::maps::Map;
use crate::object::{AttachSpec, MapKind};
use crate::platform::KernelFrame;

/// Identifies a loaded object; never reused while the kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(pub u32);

/// The most objects loaded at once.
pub const MAX_OBJECTS: usize = 64;

/// Native entry point of a compiled program: takes the context pointer and
/// the index of the CPU running it (what per-CPU maps use; see
/// [`capscope_jit::JitFn`]), returns r0 (ignored for tracing programs).
pub type ProgFn = unsafe extern "C" fn(ctx: *const u8, cpu: u64) -> u64;

/// One program's compiled code, kept alive (by `owner`) until no firing
/// can run it.
pub struct Code {
    entry: ProgFn,
    _owner: Box<dyn Send + Sync>,
    bytes: u64,
}

impl Code {
    /// Wrap compiled code.
    ///
    /// # Safety
    /// 1. `entry` may be called with a pointer to a context of the size
    ///    of the program's attach point and the index (below
    ///    [`crate::Platform::cpus`]) of the CPU calling it, from any CPU, at
    ///    any hook site, for as long as `owner` lives, and does nothing
    ///    unsafe when it is.
    ///    For eBPF that is what the verifier proves; for native test
    ///    programs it is the test's promise.
    /// 2. `entry` stays valid until `owner` is dropped.
    pub unsafe fn new(entry: ProgFn, owner: Box<dyn Send + Sync>, bytes: u64) -> Code {
        Code {
            entry,
            _owner: owner,
            bytes,
        }
    }

    /// Bytes of code and data the program keeps (charged to its object).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Per-CPU run statistics of a program, on its own cache line.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct CpuStats {
    pub(crate) runs: AtomicU64,
    pub(crate) timed: AtomicU64,
    pub(crate) ns: AtomicU64,
}

/// A program as the fire path sees it.
pub(crate) struct ProgramRt {
    pub(crate) entry: ProgFn,
    pub(crate) stats: Vec<CpuStats>,
    next_due: AtomicU64,
    attach: AttachSpec,
    name: String,
    insns: u32,
    code: Code,
}

impl ProgramRt {
    pub(crate) fn new(
        name: String,
        attach: AttachSpec,
        insns: u32,
        code: Code,
        cpus: usize,
        now: u64,
    ) -> Result<Self, LoadError> {
        let stats =
            crate::mem::try_vec(cpus, CpuStats::default).map_err(|_| LoadError::OutOfMemory {
                requested: (cpus * 64) as u64,
            })?;
        Ok(ProgramRt {
            entry: code.entry,
            stats,
            next_due: AtomicU64::new(now.saturating_add(attach.period_ns)),
            attach,
            name,
            insns,
            code,
        })
    }

    /// For interval programs: claim the period due at `now`, if any. The
    /// compare-exchange lets every CPU tick while each period runs once.
    pub(crate) fn due(&self, now: u64) -> bool {
        let due = self.next_due.load(Relaxed);
        if now < due {
            return false;
        }
        let period = self.attach.period_ns.max(1);
        // Missed periods (a long tick, a stalled timer) are skipped, not
        // replayed in a burst.
        let next = match due.checked_add(period) {
            Some(n) if n > now => n,
            _ => now.saturating_add(period),
        };
        self.next_due
            .compare_exchange(due, next, Relaxed, Relaxed)
            .is_ok()
    }

    fn info(&self) -> ProgramInfo {
        let (mut runs, mut timed, mut ns) = (0u64, 0u64, 0u64);
        for s in &self.stats {
            runs += s.runs.load(Relaxed);
            timed += s.timed.load(Relaxed);
            ns = ns.wrapping_add(s.ns.load(Relaxed));
        }
        let run_ns = if timed == 0 {
            0
        } else {
            (ns as u128 * runs as u128 / timed as u128) as u64
        };
        ProgramInfo {
            name: self.name.clone(),
            point: self.attach.point,
            period_ns: self.attach.period_ns,
            insns: self.insns,
            code_bytes: self.code.bytes,
            runs,
            run_ns,
            timed_runs: timed,
        }
    }
}

/// A loaded object: its programs, its maps and its memory charge.
pub struct LoadedObject {
    id: ObjectId,
    programs: Vec<ProgramRt>,
    maps: Vec<Map>,
    charge: Charge,
}

impl LoadedObject {
    pub(crate) fn new(
        id: ObjectId,
        programs: Vec<ProgramRt>,
        maps: Vec<Map>,
        charge: Charge,
    ) -> Self {
        LoadedObject {
            id,
            programs,
            maps,
            charge,
        }
    }

    /// Its id.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Its maps, in the object's order (`lddw rX, map[N]` is `maps()[N]`).
    pub fn maps(&self) -> &[Map] {
        &self.maps
    }

    /// Map `index`, or the error the control channel reports.
    pub fn map(&self, index: u32) -> Result<&Map, HostError> {
        self.maps.get(index as usize).ok_or(HostError::NoSuchMap {
            object: self.id,
            map: index,
        })
    }

    /// Listing information: programs with run counts and times, maps with
    /// sizes and drop counts.
    pub fn info(&self) -> ObjectInfo {
        ObjectInfo {
            id: self.id,
            memory: self.charge.bytes(),
            programs: self.programs.iter().map(ProgramRt::info).collect(),
            maps: self
                .maps
                .iter()
                .map(|m| MapInfo {
                    name: m.def().name.clone(),
                    kind: m.def().kind,
                    key_size: m.def().key_size,
                    value_size: m.def().value_size,
                    max_entries: m.def().max_entries,
                    len: m.len(),
                    drops: m.drops(),
                })
                .collect(),
        }
    }

    fn at(&self, point: AttachPoint) -> impl Iterator<Item = &ProgramRt> {
        self.programs
            .iter()
            .filter(move |p| p.attach.point == point)
    }

    /// Run this object's programs at `point` (BEGIN or END) once, now, on
    /// this CPU. The object is not in any snapshot while this runs.
    fn run_now(&self, point: AttachPoint) -> Result<(), LoadError> {
        if self.at(point).next().is_none() {
            return Ok(());
        }
        let p = fire::platform().ok_or(LoadError::NotInitialized)?;
        let header = fire::header(p, p.now_ns());
        let ctx = zerocopy::IntoBytes::as_bytes(&header).as_ptr();
        let running = Running::enter(ctx, KernelFrame(0)).ok_or(LoadError::Busy)?;
        for p in self.at(point) {
            running.run(&[p.entry()], ctx, |_| true);
        }
        Ok(())
    }
}

/// What `capscope ps` shows about a program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramInfo {
    /// The probe as written.
    pub name: String,
    /// Where it is attached.
    pub point: AttachPoint,
    /// For interval programs, the period.
    pub period_ns: u64,
    /// Instruction slots of its bytecode.
    pub insns: u32,
    /// Bytes of native code.
    pub code_bytes: u64,
    /// Times it ran.
    pub runs: u64,
    /// Estimated total run time in ns: the sampled runs' time scaled to all
    /// runs (see [`crate::set_timing_sample`]).
    pub run_ns: u64,
    /// Runs whose time was measured.
    pub timed_runs: u64,
}

/// What `capscope ps` shows about a map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapInfo {
    /// Its name in the script.
    pub name: String,
    /// Its kind.
    pub kind: MapKind,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Entries in use (ring buffers: bytes waiting).
    pub len: u64,
    /// Events dropped on it.
    pub drops: u64,
}

/// One loaded object in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Its id.
    pub id: ObjectId,
    /// Bytes charged to it.
    pub memory: u64,
    /// Its programs.
    pub programs: Vec<ProgramInfo>,
    /// Its maps.
    pub maps: Vec<MapInfo>,
}

/// What the fire path needs of one attached program, flat, so a firing
/// reaches the code and its statistics with as few dependent loads as
/// possible.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The compiled code.
    pub(crate) entry: ProgFn,
    /// The program's per-CPU statistics: `ncpus()` of them.
    pub(crate) stats: *const CpuStats,
    /// The program, for interval bookkeeping.
    pub(crate) prog: *const ProgramRt,
}

impl ProgramRt {
    fn entry(&self) -> Entry {
        Entry {
            entry: self.entry,
            stats: self.stats.as_ptr(),
            prog: self,
        }
    }

    /// The runtime behind an entry.
    ///
    /// # Safety
    /// `e` comes from a live snapshot or object (see [`Snapshot`]).
    pub(crate) unsafe fn of(e: &Entry) -> &ProgramRt {
        // SAFETY: per the contract, the pointee is alive.
        unsafe { &*e.prog }
    }
}

/// The attached programs by point, as published to the fire path: each
/// point's entries in a slice of their own, so a firing finds them with two
/// loads and no bounds check.
pub(crate) struct Snapshot {
    points: [Box<[Entry]>; AttachPoint::COUNT],
    /// Keeps every program above alive for as long as this snapshot is.
    _owners: Vec<Arc<LoadedObject>>,
}

// SAFETY: the raw pointers point into objects `_owners` keeps alive, and
// `ProgramRt` is only read through them (its mutable parts are atomics).
unsafe impl Send for Snapshot {}
// SAFETY: as above.
unsafe impl Sync for Snapshot {}

impl Snapshot {
    fn build(objects: &[Arc<LoadedObject>]) -> Result<Box<Snapshot>, ()> {
        let mut points: [Box<[Entry]>; AttachPoint::COUNT] = Default::default();
        for point in AttachPoint::ALL {
            // BEGIN and END run from attach and detach, not from hooks.
            if matches!(point, AttachPoint::Begin | AttachPoint::End) {
                continue;
            }
            let here = || {
                objects
                    .iter()
                    .flat_map(|o| o.programs.iter())
                    .filter(move |p| p.attach.point == point)
            };
            let mut entries = Vec::new();
            entries.try_reserve_exact(here().count()).map_err(drop)?;
            entries.extend(here().map(ProgramRt::entry));
            points[point.index()] = entries.into_boxed_slice();
        }
        let mut owners = Vec::new();
        owners.try_reserve_exact(objects.len()).map_err(drop)?;
        owners.extend(objects.iter().cloned());
        Ok(Box::new(Snapshot {
            points,
            _owners: owners,
        }))
    }

    /// The programs attached at `point`.
    #[inline(always)]
    pub(crate) fn programs(&self, point: AttachPoint) -> &[Entry] {
        &self.points[point.index()]
    }
}

static OBJECTS: spin::Mutex<Vec<Arc<LoadedObject>>> = spin::Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh object id.
pub(crate) fn next_id() -> ObjectId {
    ObjectId(NEXT_ID.fetch_add(1, Relaxed) as u32)
}

/// How many objects are loaded.
pub(crate) fn count() -> usize {
    OBJECTS.lock().len()
}

/// Publish a snapshot of `objects`, then wait out the grace period of the
/// one it replaces and free it.
fn publish(objects: &[Arc<LoadedObject>]) -> Result<(), ()> {
    let p = fire::platform().ok_or(())?;
    let new = Box::into_raw(Snapshot::build(objects)?);
    let old = SNAPSHOT.swap(new, SeqCst);
    // SAFETY: `new` was just made from a Box and is only read from now on.
    let snap = unsafe { &*new };
    for point in AttachPoint::ALL {
        // The flags are only a fast-path hint: a firing that sees a stale
        // flag finds the right programs in the snapshot anyway.
        ARMED[point.index()].store(!snap.programs(point).is_empty(), SeqCst);
    }
    epoch::synchronize(p);
    if !old.is_null() {
        // SAFETY: `old` came from `Box::into_raw` in an earlier publish, was
        // unpublished by the swap above, and the grace period has passed:
        // no firing can still be reading it.
        drop(unsafe { Box::from_raw(old) });
    }
    Ok(())
}

/// Attach a freshly loaded object: run its BEGIN programs, then publish
/// its other programs.
pub(crate) fn attach(obj: LoadedObject) -> Result<ObjectId, LoadError> {
    let id = obj.id;
    obj.run_now(AttachPoint::Begin)?;
    let obj = Arc::new(obj);
    let mut objects = OBJECTS.lock();
    if objects.len() >= MAX_OBJECTS {
        return Err(LoadError::TooManyObjects {
            limit: MAX_OBJECTS as u32,
        });
    }
    objects
        .try_reserve(1)
        .map_err(|_| LoadError::OutOfMemory { requested: 8 })?;
    objects.push(obj);
    if publish(&objects).is_err() {
        // Nothing was published (building the snapshot failed), so the
        // object was never visible: take it back out.
        objects.pop();
        return Err(LoadError::OutOfMemory { requested: 0 });
    }
    Ok(id)
}

/// A detached object: its programs can no longer run, its `END` programs
/// have run, and its maps hold their final contents for the host to read
/// and drain. Dropping it frees the maps and code and returns the memory.
pub struct Detached(Arc<LoadedObject>);

impl core::ops::Deref for Detached {
    type Target = LoadedObject;
    fn deref(&self) -> &LoadedObject {
        &self.0
    }
}

/// Detach object `id`: unpublish its programs, wait until none can run,
/// run its `END` programs, and hand it over with its final map contents.
pub fn detach(id: ObjectId) -> Result<Detached, HostError> {
    let obj = {
        let mut objects = OBJECTS.lock();
        let i = objects
            .iter()
            .position(|o| o.id == id)
            .ok_or(HostError::NoSuchObject(id))?;
        let obj = objects.remove(i);
        if publish(&objects).is_err() {
            objects.insert(i, obj);
            return Err(HostError::OutOfMemory);
        }
        obj
    };
    // After the grace period nothing else runs this object's programs, so
    // END sees the final state and its output is the last in the buffers.
    // It cannot be busy: the control path is not inside a firing.
    let _ = obj.run_now(AttachPoint::End);
    Ok(Detached(obj))
}

/// The loaded object `id`, for reading its maps.
pub fn object(id: ObjectId) -> Result<Arc<LoadedObject>, HostError> {
    OBJECTS
        .lock()
        .iter()
        .find(|o| o.id == id)
        .cloned()
        .ok_or(HostError::NoSuchObject(id))
}

/// Every loaded object, in load order.
pub fn list() -> Vec<ObjectInfo> {
    let objects: Vec<_> = OBJECTS.lock().iter().cloned().collect();
    objects.iter().map(|o| o.info()).collect()
}

/// Events dropped at `point` because their CPU was already running a
/// program (or could run none).
pub fn missed(point: AttachPoint) -> u64 {
    MISSED[point.index()].load(Relaxed)
}
