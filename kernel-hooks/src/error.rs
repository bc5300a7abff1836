//! Errors the control channel carries back to the host.
//!
//! Both enums are plain data with `serde` derives, so the kernel can send
//! them as they are (postcard) and the host can render them: a verifier
//! rejection keeps its code, instruction index, message, register state
//! and source span, so the host shows it on the user's script line exactly
//! as its own verifier would.

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::object::{MapKind, Span};
use crate::registry::ObjectId;

/// Why a load failed. A failed load leaves nothing behind: no maps, no
/// code, no charge against the memory limit, nothing attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadError {
    /// [`crate::init`] was never called.
    NotInitialized,
    /// The bytes are not a valid probe object.
    Object {
        /// The decoder's message.
        message: String,
    },
    /// The verifier rejected a program.
    Verify {
        /// Index of the program in the object.
        program: u32,
        /// The program's name (its probe, as written).
        name: String,
        /// Stable code, `V0xx`.
        code: String,
        /// The instruction slot the verifier stopped at.
        insn: u32,
        /// What is wrong, in plain words (with the instruction).
        message: String,
        /// The abstract state of the registers involved.
        state: String,
        /// The source span of the instruction, from the line table.
        span: Option<Span>,
    },
    /// The JIT could not compile a program the verifier accepted.
    Jit {
        /// Index of the program in the object.
        program: u32,
        /// The JIT's message.
        message: String,
    },
    /// The object's maps (and code) would take the probe memory over its limit.
    MemoryLimit {
        /// Bytes this object needs.
        requested: u64,
        /// Bytes already in use by loaded objects.
        in_use: u64,
        /// The limit.
        limit: u64,
    },
    /// The heap could not provide memory the limit allowed.
    OutOfMemory {
        /// Bytes asked for.
        requested: u64,
    },
    /// Too many objects are loaded.
    TooManyObjects {
        /// The limit.
        limit: u32,
    },
    /// The object is valid but cannot run here.
    Unsupported {
        /// Index of the program (or map) concerned.
        index: u32,
        /// Why.
        reason: String,
    },
    /// A `BEGIN` program could not run because this CPU was already running
    /// a program (load was called from inside a probe).
    Busy,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotInitialized => write!(f, "probe support is not initialized"),
            LoadError::Object { message } => write!(f, "invalid probe object: {message}"),
            LoadError::Verify {
                name,
                code,
                insn,
                message,
                state,
                ..
            } => {
                write!(f, "{code}: program `{name}`, instruction {insn}: {message}")?;
                if !state.is_empty() {
                    write!(f, " ({state})")?;
                }
                Ok(())
            }
            LoadError::Jit { program, message } => {
                write!(f, "program {program} failed to compile: {message}")
            }
            LoadError::MemoryLimit {
                requested,
                in_use,
                limit,
            } => write!(
                f,
                "the probe needs {requested} bytes of map and code memory, but only {} of the \
                 {limit}-byte probe memory limit are free ({in_use} in use)",
                limit.saturating_sub(*in_use)
            ),
            LoadError::OutOfMemory { requested } => {
                write!(f, "the kernel heap could not provide {requested} bytes")
            }
            LoadError::TooManyObjects { limit } => {
                write!(
                    f,
                    "{limit} probe objects are loaded already; detach one first"
                )
            }
            LoadError::Unsupported { index, reason } => write!(f, "item {index}: {reason}"),
            LoadError::Busy => write!(f, "cannot load from inside a probe"),
        }
    }
}

/// Why a control-channel request on loaded objects failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostError {
    /// No loaded object has this id.
    NoSuchObject(ObjectId),
    /// The object has no map with this index.
    NoSuchMap {
        /// The object.
        object: ObjectId,
        /// The map index asked for.
        map: u32,
    },
    /// The operation does not apply to this kind of map (reading a ring
    /// buffer instead of draining it, draining a hash...).
    WrongKind {
        /// The map's kind.
        kind: MapKind,
    },
    /// The key has the wrong size.
    KeySize {
        /// The map's key size.
        expected: u32,
        /// The size given.
        got: u32,
    },
    /// The value has the wrong size.
    ValueSize {
        /// The map's value size.
        expected: u32,
        /// The size given.
        got: u32,
    },
    /// The key is not in the map.
    NoSuchKey,
    /// The map is full.
    MapFull,
    /// The kernel heap could not provide memory for the request.
    OutOfMemory,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NoSuchObject(id) => write!(f, "no probe object with id {}", id.0),
            HostError::NoSuchMap { object, map } => {
                write!(f, "probe object {} has no map {map}", object.0)
            }
            HostError::WrongKind { kind } => write!(f, "not supported on a {kind} map"),
            HostError::KeySize { expected, got } => {
                write!(f, "key is {got} bytes, the map's keys are {expected}")
            }
            HostError::ValueSize { expected, got } => {
                write!(f, "value is {got} bytes, the map's values are {expected}")
            }
            HostError::NoSuchKey => write!(f, "no such key"),
            HostError::MapFull => write!(f, "map is full"),
            HostError::OutOfMemory => write!(f, "out of kernel memory"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}
#[cfg(feature = "std")]
impl std::error::Error for HostError {}
