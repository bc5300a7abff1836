//! The host's side: what the control channel calls to read, clear and
//! drain maps of loaded (or just detached) objects.
//!
//! Requests name an object by id and a map by its index in the object.
//! Results are plain `serde` data for the channel to send as they are.
//! None of these stops firing: reads copy one bucket at a time under that
//! bucket's lock, and ring buffers are drained without the producers' lock.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::abi::AttachPoint;
use crate::budget::{memory_in_use, memory_limit};
use crate::error::HostError;
use crate::maps::Page;
use crate::registry::{self, LoadedObject, ObjectId};

/// A page of a map, with what the host needs to print it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRead {
    /// The entries and where to continue.
    pub page: Page,
    /// Values per entry: the CPU count for per-CPU maps, else 1.
    pub values_per_entry: u32,
    /// Events dropped on this map so far.
    pub drops: u64,
}

/// Ring-buffer records, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drained {
    /// The records, each starting with an `object::record::RecordHeader`.
    pub records: Vec<Vec<u8>>,
    /// More records are waiting.
    pub more: bool,
    /// Records dropped because the buffer was full, so far.
    pub drops: u64,
}

/// The whole probe machinery at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Loaded objects.
    pub objects: u32,
    /// Bytes charged to objects.
    pub memory_in_use: u64,
    /// The memory limit.
    pub memory_limit: u64,
    /// Events missed per attach point because their CPU was already
    /// running a program; only points with misses are listed.
    pub missed: Vec<(AttachPoint, u64)>,
}

impl LoadedObject {
    /// Read up to `max` entries of map `map` from `cursor` (0 to start).
    pub fn read_map(&self, map: u32, cursor: u64, max: usize) -> Result<MapRead, HostError> {
        let m = self.map(map)?;
        Ok(MapRead {
            page: m.read(cursor, max)?,
            values_per_entry: m.values_per_entry() as u32,
            drops: m.drops(),
        })
    }

    /// Drain about `max_bytes` of records from ring buffer `map`.
    pub fn drain_ringbuf(&self, map: u32, max_bytes: usize) -> Result<Drained, HostError> {
        let m = self.map(map)?;
        let mut records = Vec::new();
        let more = m.drain(max_bytes, &mut |r| records.push(r.to_vec()))?;
        Ok(Drained {
            records,
            more,
            drops: m.drops(),
        })
    }
}

/// Read a page of a loaded object's map.
pub fn read_map(id: ObjectId, map: u32, cursor: u64, max: usize) -> Result<MapRead, HostError> {
    registry::object(id)?.read_map(map, cursor, max)
}

/// Drain records from a loaded object's ring buffer.
pub fn drain_ringbuf(id: ObjectId, map: u32, max_bytes: usize) -> Result<Drained, HostError> {
    registry::object(id)?.drain_ringbuf(map, max_bytes)
}

/// Delete every entry of a map (`clear(@map)`; arrays are zeroed).
pub fn clear_map(id: ObjectId, map: u32) -> Result<(), HostError> {
    registry::object(id)?.map(map)?.clear();
    Ok(())
}

/// Zero every value of a map, keeping its keys (`zero(@map)`).
pub fn zero_map(id: ObjectId, map: u32) -> Result<(), HostError> {
    registry::object(id)?.map(map)?.zero();
    Ok(())
}

/// Delete one key of a map, on every CPU.
pub fn delete_key(id: ObjectId, map: u32, key: &[u8]) -> Result<(), HostError> {
    registry::object(id)?.map(map)?.delete_key(key)
}

/// Insert or replace one key of a map (every CPU's copy).
pub fn update_key(id: ObjectId, map: u32, key: &[u8], value: &[u8]) -> Result<(), HostError> {
    registry::object(id)?.map(map)?.update_key(key, value)
}

/// Objects, memory and missed events.
pub fn status() -> Status {
    Status {
        objects: registry::count() as u32,
        memory_in_use: memory_in_use(),
        memory_limit: memory_limit(),
        missed: AttachPoint::ALL
            .into_iter()
            .map(|p| (p, registry::missed(p)))
            .filter(|&(_, n)| n != 0)
            .collect(),
    }
}
