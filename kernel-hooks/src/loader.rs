//! The loader: probe object bytes in, attached programs out.
//!
//! [`load`] is one ordered pipeline: decode defensively, check limits,
//! charge the memory the maps will take, create the maps, verify and
//! compile every program (through an [`Engine`]), run `BEGIN`, publish.
//! Each step either succeeds or returns a [`LoadError`] with everything
//! built so far dropped: maps, code and memory charge are all owned values,
//! so an early return frees them, and nothing is visible to the fire path
//! until the final publish.

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::budget::Charge;
use crate::error::LoadError;
use crate::fire::{ncpus, platform};
use crate::maps::{Map, MapNewError};
use crate::mem;
use crate::object::ProbeObject;
use crate::registry::{self, Code, CpuStats, LoadedObject, MAX_OBJECTS, ObjectId, ProgramRt};

/// Turns one program of an object into native code. The kernel's engine
/// verifies the program and JIT-compiles it; tests can supply native
/// functions instead.
pub trait Engine {
    /// Verify and compile program `index` of `obj`. `maps[i]` is the handle
    /// of map `i` (what `lddw rX, map[i]` must load).
    fn compile(&mut self, obj: &ProbeObject, index: usize, maps: &[u64])
    -> Result<Code, LoadError>;
}

impl<F: FnMut(&ProbeObject, usize, &[u64]) -> Result<Code, LoadError>> Engine for F {
    fn compile(
        &mut self,
        obj: &ProbeObject,
        index: usize,
        maps: &[u64],
    ) -> Result<Code, LoadError> {
        self(obj, index, maps)
    }
}

/// Decode a serialized probe object and load it (see [`load_object`]).
/// The bytes are hostile: any malformation is an error, never a panic.
pub fn load(bytes: &[u8], engine: &mut dyn Engine) -> Result<ObjectId, LoadError> {
    let obj = ProbeObject::from_bytes(bytes).map_err(|e| LoadError::Object {
        message: e.to_string(),
    })?;
    load_object(&obj, engine)
}

/// Bytes of bookkeeping per program besides its code.
fn program_overhead(cpus: usize) -> u64 {
    (core::mem::size_of::<ProgramRt>() + cpus * core::mem::size_of::<CpuStats>()) as u64
}

/// Load an object: create its maps, compile its programs, run its `BEGIN`
/// programs and attach the rest. Returns the new object's id.
pub fn load_object(obj: &ProbeObject, engine: &mut dyn Engine) -> Result<ObjectId, LoadError> {
    let p = platform().ok_or(LoadError::NotInitialized)?;
    let cpus = ncpus();
    obj.validate().map_err(|e| LoadError::Object {
        message: e.to_string(),
    })?;
    if registry::count() >= MAX_OBJECTS {
        return Err(LoadError::TooManyObjects {
            limit: MAX_OBJECTS as u32,
        });
    }

    // Charge everything that can be known before allocating anything.
    let mut need = 0u64;
    for (i, def) in obj.maps.iter().enumerate() {
        let bytes = Map::footprint(def, cpus).ok_or_else(|| LoadError::Unsupported {
            index: i as u32,
            reason: "invalid map definition".to_string(),
        })?;
        need = need.saturating_add(bytes);
    }
    need = need.saturating_add(program_overhead(cpus) * obj.programs.len() as u64);
    let mut charge = Charge::take(need)?;

    // Maps. The vector never grows past its reserved capacity, so each
    // map's address (its handle) is fixed from here on.
    let mut maps: Vec<Map> = Vec::new();
    maps.try_reserve_exact(obj.maps.len())
        .map_err(|_| LoadError::OutOfMemory { requested: need })?;
    let now = p.now_ns();
    for (i, def) in obj.maps.iter().enumerate() {
        let seed = mem::hash(&now.to_le_bytes(), i as u64 ^ maps.as_ptr() as u64);
        let map = Map::new(def, cpus, seed).map_err(|e| match e {
            MapNewError::OutOfMemory => LoadError::OutOfMemory {
                requested: Map::footprint(def, cpus).unwrap_or(0),
            },
            MapNewError::Invalid(reason) => LoadError::Unsupported {
                index: i as u32,
                reason: reason.to_string(),
            },
        })?;
        maps.push(map);
    }
    let handles: Vec<u64> = maps.iter().map(Map::handle).collect();

    // Programs: verify and compile each, charging its code.
    let mut programs = Vec::new();
    programs
        .try_reserve_exact(obj.programs.len())
        .map_err(|_| LoadError::OutOfMemory { requested: 0 })?;
    for (i, def) in obj.programs.iter().enumerate() {
        let code = engine.compile(obj, i, &handles)?;
        charge.merge(Charge::take(code.bytes())?);
        programs.push(ProgramRt::new(
            def.name.clone(),
            def.attach,
            def.insns.len() as u32,
            code,
            cpus,
            now,
        )?);
    }

    registry::attach(LoadedObject::new(
        registry::next_id(),
        programs,
        maps,
        charge,
    ))
}
