//! The JIT's error type. Every way a compile can fail is a variant here; the
//! JIT never panics on a program, however malformed.

use alloc::string::String;
use core::fmt;

use capscope_bytecode::insn::{HelperId, InsnIdx, MapIdx, ProgramError};

use crate::memory::CodeMemoryError;

/// Result alias for the JIT.
pub type Result<T, E = JitError> = core::result::Result<T, E>;

/// Why a program could not be compiled or installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    /// The slots do not decode (the verifier would have rejected them).
    Decode(ProgramError),
    /// The program is empty.
    Empty,
    /// More slots, or more inlined instructions, than [`crate::Options`] allow.
    TooLarge {
        /// How many instructions the program (with inlined calls) has.
        insns: usize,
        /// The limit.
        max: usize,
    },
    /// The facts were computed for a program of another length.
    FactsMismatch {
        /// Slots in the program.
        slots: usize,
        /// Entries in the facts.
        facts: usize,
    },
    /// An instruction the JIT does not translate.
    Unsupported {
        /// Where.
        at: InsnIdx,
        /// What it is.
        what: Unsupported,
    },
    /// A jump or local call lands outside the program or inside an `lddw`.
    BadJump {
        /// The jump.
        at: InsnIdx,
    },
    /// Control runs past the last instruction without `exit`.
    FallsOffEnd {
        /// The last instruction on that path.
        at: InsnIdx,
    },
    /// Local calls nest deeper than [`crate::MAX_CALL_DEPTH`], or recurse.
    CallDepth {
        /// The call that went too deep.
        at: InsnIdx,
    },
    /// `lddw map[N]` names a map the [`crate::Linker`] does not know.
    UnknownMap {
        /// Where.
        at: InsnIdx,
        /// The map index.
        map: MapIdx,
    },
    /// A helper the [`crate::Linker`] does not provide.
    UnknownHelper {
        /// Where.
        at: InsnIdx,
        /// The helper number.
        helper: HelperId,
    },
    /// Cranelift failed (its message). Cranelift's own errors are not `Clone`,
    /// so the text is kept.
    Codegen(String),
    /// The machine code needs relocations, which the JIT never resolves
    /// through a dynamic linker; this is a JIT bug if it ever happens.
    Relocations {
        /// How many.
        count: usize,
    },
    /// The code memory could not take the code.
    Memory(CodeMemoryError),
}

/// Instructions the JIT refuses, with the reason in the variant name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// `call` by BTF id (a Linux kfunc): no such functions here.
    BtfCall,
    /// `lddw` of a map value address, variable or code address: the linker
    /// has no addresses for them and the verifier rejects them.
    LoadImmKind,
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Decode(e) => write!(f, "{e}"),
            JitError::Empty => write!(f, "the program has no instructions"),
            JitError::TooLarge { insns, max } => {
                write!(f, "program too large: {insns} instructions, at most {max}")
            }
            JitError::FactsMismatch { slots, facts } => write!(
                f,
                "verifier facts cover {facts} slots but the program has {slots}"
            ),
            JitError::Unsupported { at, what } => {
                let what = match what {
                    Unsupported::BtfCall => "calls by BTF id",
                    Unsupported::LoadImmKind => "this lddw kind (only constants and maps)",
                };
                write!(f, "instruction {at}: the JIT does not support {what}")
            }
            JitError::BadJump { at } => {
                write!(f, "instruction {at}: jump target outside the program")
            }
            JitError::FallsOffEnd { at } => {
                write!(
                    f,
                    "instruction {at}: control falls off the end of the program"
                )
            }
            JitError::CallDepth { at } => write!(
                f,
                "instruction {at}: local calls recurse or nest deeper than {}",
                crate::MAX_CALL_DEPTH
            ),
            JitError::UnknownMap { at, map } => {
                write!(f, "instruction {at}: map {map} is not linked")
            }
            JitError::UnknownHelper { at, helper } => {
                write!(f, "instruction {at}: helper {helper} is not available")
            }
            JitError::Codegen(msg) => write!(f, "code generation failed: {msg}"),
            JitError::Relocations { count } => {
                write!(f, "machine code needs {count} relocations")
            }
            JitError::Memory(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JitError {}

impl From<CodeMemoryError> for JitError {
    fn from(e: CodeMemoryError) -> Self {
        JitError::Memory(e)
    }
}
