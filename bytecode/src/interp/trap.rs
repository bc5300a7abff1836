//! Why a run stopped early: [`Trap`] and its typed [`TrapKind`].
//!
//! Every variant carries what a person needs to understand the failure
//! (addresses, registers, helper argument numbers); the instruction index is
//! on [`Trap`] so the CLI can point at the source line through the line table.

use core::fmt;

use crate::insn::{DecodeError, HelperId, InsnIdx, LoadImmKind, MapIdx, Reg};
use crate::object::MapKind;

/// A run that stopped before `exit` of the outermost frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// The slot of the instruction that trapped.
    pub at: InsnIdx,
    /// What went wrong.
    pub kind: TrapKind,
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// The slot does not decode (decoding is checked before anything runs).
    InvalidInstruction(DecodeError),
    /// A memory access outside the context, the live stack frames and the
    /// map values handed out by helpers.
    OutOfBounds {
        /// First byte of the access.
        addr: u64,
        /// Its length in bytes.
        len: u64,
        /// True for a store.
        write: bool,
    },
    /// A read of stack bytes that were never written in this frame.
    UninitializedStackRead {
        /// First byte of the access.
        addr: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// A store (or atomic) into the read-only context.
    ContextWrite {
        /// The address written.
        addr: u64,
    },
    /// A register read before anything was written to it (r0 and r2-r9 at
    /// entry, r1-r5 after a call, r0 and r6-r9 at the start of a local
    /// function).
    UninitializedRegister(Reg),
    /// An instruction writes r10, which is read-only.
    FramePointerWrite,
    /// A value carrying pointer bits would leave the program.
    PointerLeak(LeakSink),
    /// More instructions than [`super::Config::fuel`] would execute.
    FuelExhausted,
    /// `call` names a helper that is not in [`crate::abi::helpers::HELPERS`].
    UnknownHelper(HelperId),
    /// A helper argument does not have the type the helper table declares.
    BadHelperArg {
        /// The argument register, 1 to 5.
        arg: u8,
        /// What is wrong with it.
        why: ArgProblem,
    },
    /// `lddw rX, map[N]` names a map the environment does not have.
    UnknownMap(MapIdx),
    /// An `lddw` kind other than a constant or a map index.
    UnsupportedLoadImm(LoadImmKind),
    /// A call by BTF id (Linux kfuncs), which capscope does not have.
    UnsupportedCall,
    /// A local call would exceed [`super::Config::max_frames`].
    CallDepth,
    /// A jump or local call whose target is outside the program or the
    /// second half of an `lddw`.
    BadJumpTarget {
        /// The target slot, relative to the program start.
        target: i64,
    },
    /// Execution ran past the last instruction without `exit`.
    FellOffEnd,
    /// The environment refused the helper call for a reason of its own.
    Helper {
        /// The helper.
        id: HelperId,
        /// The environment's reason.
        why: ArgProblem,
    },
}

/// Where a pointer-carrying value tried to go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakSink {
    /// r0 at the final `exit`.
    ExitValue,
    /// A scalar helper argument (the register number).
    HelperArg(u8),
    /// Bytes a helper reads through a pointer argument (the register number):
    /// map keys and values, ring-buffer records.
    HelperMemory(u8),
    /// A store into a map value.
    MapValue,
}

/// Why a helper argument is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgProblem {
    /// Not a handle the environment gave out.
    NotAMap,
    /// A map of a kind this helper does not accept.
    WrongMapKind(MapKind),
    /// Not the context pointer the program received.
    NotContext,
    /// The memory it points to is not readable (or not writable) for the
    /// required length.
    OutOfBounds {
        /// First byte.
        addr: u64,
        /// Length the helper needs.
        len: u64,
    },
    /// Some of the bytes it points to were never written.
    Uninitialized,
    /// A size of zero (the helper table requires at least one byte).
    ZeroSize,
    /// Memory the helper writes must be stack or a map value.
    NotWritable,
    /// The helper table gives a key or value argument without a map argument.
    NoMap,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instruction {}: {}", self.at, self.kind)
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::InvalidInstruction(e) => write!(f, "invalid instruction: {e}"),
            TrapKind::OutOfBounds { addr, len, write } => write!(
                f,
                "out-of-bounds {} of {len} bytes at {addr:#x}",
                if *write { "write" } else { "read" }
            ),
            TrapKind::UninitializedStackRead { addr, len } => {
                write!(f, "read of {len} uninitialized stack bytes at {addr:#x}")
            }
            TrapKind::ContextWrite { addr } => {
                write!(f, "write to the read-only context at {addr:#x}")
            }
            TrapKind::UninitializedRegister(r) => write!(f, "{r} is read before it is written"),
            TrapKind::FramePointerWrite => write!(f, "r10 is read-only"),
            TrapKind::PointerLeak(sink) => write!(f, "a pointer would leak into {sink}"),
            TrapKind::FuelExhausted => write!(f, "instruction budget (fuel) exhausted"),
            TrapKind::UnknownHelper(id) => write!(f, "unknown helper {id}"),
            TrapKind::BadHelperArg { arg, why } => write!(f, "helper argument r{arg}: {why}"),
            TrapKind::UnknownMap(idx) => write!(f, "map {idx} does not exist"),
            TrapKind::UnsupportedLoadImm(k) => {
                write!(f, "lddw with src {} is not supported", k.src())
            }
            TrapKind::UnsupportedCall => write!(f, "calls by BTF id are not supported"),
            TrapKind::CallDepth => write!(f, "too many nested local calls"),
            TrapKind::BadJumpTarget { target } => write!(f, "jump to invalid slot {target}"),
            TrapKind::FellOffEnd => write!(f, "execution ran past the last instruction"),
            TrapKind::Helper { id, why } => write!(f, "helper {id} refused: {why}"),
        }
    }
}

impl fmt::Display for LeakSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeakSink::ExitValue => write!(f, "the return value r0"),
            LeakSink::HelperArg(r) => write!(f, "scalar helper argument r{r}"),
            LeakSink::HelperMemory(r) => write!(f, "memory passed to a helper in r{r}"),
            LeakSink::MapValue => write!(f, "a map value"),
        }
    }
}

impl fmt::Display for ArgProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgProblem::NotAMap => write!(f, "not a map"),
            ArgProblem::WrongMapKind(k) => write!(f, "a {k} map is not accepted here"),
            ArgProblem::NotContext => write!(f, "not the context pointer"),
            ArgProblem::OutOfBounds { addr, len } => {
                write!(f, "{len} bytes at {addr:#x} are not accessible")
            }
            ArgProblem::Uninitialized => write!(f, "points to uninitialized stack bytes"),
            ArgProblem::ZeroSize => write!(f, "size must be at least 1"),
            ArgProblem::NotWritable => write!(f, "must point to stack or a map value"),
            ArgProblem::NoMap => write!(f, "no map argument precedes it"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Trap {}
