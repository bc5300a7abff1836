//! What the verifier proved about an accepted program, for the JIT.
//!
//! The JIT may rely on every fact here: they hold on every execution of the
//! program (the verifier's soundness test checks the verdicts against the
//! memory-checked interpreter). A fact the verifier could not establish is
//! left at its conservative default, so `Facts::conservative` is always a
//! correct (if unhelpful) input.

use alloc::vec;
use alloc::vec::Vec;

/// Per-slot facts, indexed by instruction slot (the second half of an
/// `lddw` has a default entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// One entry per instruction slot.
    pub insns: Vec<InsnFacts>,
}

/// Facts about one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsnFacts {
    /// Some path reaches this instruction. Unreachable code need not be compiled.
    pub reachable: bool,
    /// For a conditional jump: whether it is known to go one way.
    pub branch: Branch,
}

impl Default for InsnFacts {
    fn default() -> Self {
        InsnFacts {
            reachable: true,
            branch: Branch::Unknown,
        }
    }
}

/// A conditional jump's proven behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Branch {
    /// Either way, as far as the verifier knows (also for non-jumps).
    #[default]
    Unknown,
    /// Always jumps (for example a null check on a value proven non-null).
    AlwaysTaken,
    /// Never jumps.
    NeverTaken,
}

impl Facts {
    /// Facts that assume nothing: every slot reachable, no branch known.
    pub fn conservative(slots: usize) -> Facts {
        Facts {
            insns: vec![InsnFacts::default(); slots],
        }
    }
}
