//! capscope's verifier: proves a probe program safe before it runs in ring 0.
//!
//! The kernel runs [`verify`] on every program it loads and trusts nothing
//! from the host; the CLI runs the same code first so users see errors on
//! their own source lines. The crate is `no_std` + `alloc`, has no
//! `unsafe`, never panics on any input, and always terminates: its work is
//! bounded by [`Options::max_steps`].
//!
//! # What an accepted program is guaranteed to do
//!
//! On every execution, for every context and every map content:
//!
//! 1. **Well-formed code.** Every slot decodes (RFC 9669, strict), every
//!    `lddw` is complete and no jump lands in its second half, every jump
//!    lands inside the program, no path runs past the end, every map index
//!    and helper number exists.
//! 2. **Registers.** No register is read before it is written; after a
//!    call r1-r5 are unreadable until written; r10 is never written; r0
//!    holds a number at `exit`.
//! 3. **Stack.** Every access lies in `[r10-512, r10)`; every byte read
//!    (directly or by a helper) was written on every path before; spilled
//!    pointers come back as pointers when filled with the same size at the
//!    same place.
//! 4. **Context.** Only read, only at a constant offset and size that match
//!    a field of the attach point ([`capscope_bytecode::abi::fields::at`]).
//! 5. **Map values.** Accessed only after a null check and only within the
//!    value size; map pointers are only passed to helpers.
//! 6. **Pointers.** Only bounded numbers are added to or subtracted from
//!    stack and map-value pointers (64-bit only); no other ALU operation
//!    touches a pointer.
//! 7. **No kernel address leaves.** No pointer or bits of one reach a map,
//!    the ring buffer, a helper argument or the return value, nor decide a
//!    branch (except null checks and comparisons within one region).
//! 8. **Helpers.** Every argument matches the helper table's type and size.
//! 9. **Termination.** Every path executes at most
//!    [`Options::max_path`] (1,000,000) instructions.
//! 10. **Division by zero** is defined by RFC 9669 and is not an error.
//!
//! It assumes the interpreter/JIT implement RFC 9669 semantics, that r10
//! is 8-byte aligned and map values are 8-byte aligned (for atomics), and
//! that helpers behave as `abi::helpers` declares.
//!
//! # Design
//!
//! Abstract interpretation ([`explore`]) over the block graph in weak
//! topological order ([`cfg`]), with values ([`value`]) made of types plus
//! number domains ([`range`], [`tnum`]) and a byte-precise stack
//! ([`stack`]); joins at merge points, loops unrolled. `docs/verifier.md`
//! has the details and the message codes.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod arith;
pub mod branch;
pub mod call;
pub mod cfg;
pub mod cmp;
pub mod exec;
pub mod explore;
pub mod facts;
pub mod range;
pub mod reject;
pub mod stack;
pub mod state;
pub mod tnum;
pub mod value;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::{Insn, InsnIdx, Op};
use capscope_bytecode::object::{MapDef, ProgramDef};

pub use facts::{Branch, Facts, InsnFacts};
pub use reject::{Code, RegisterDump, RejectKind, Rejection};

/// The rule-9 bound on every path.
pub const MAX_PATH_INSNS: u64 = 1_000_000;

/// The default analysis budget, in instruction steps over all states.
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000;

/// How to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Record the abstract state before every analysed instruction.
    pub log: bool,
    /// Give up (rejecting with `V082`) after this many instruction steps.
    pub max_steps: u64,
    /// Reject (`V081`) programs with a path longer than this (rule 9:
    /// 1,000,000; tests lower it).
    pub max_path: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log: false,
            max_steps: DEFAULT_MAX_STEPS,
            max_path: MAX_PATH_INSNS,
        }
    }
}

/// Work the verifier did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instruction steps over all abstract states.
    pub insns_processed: u64,
    /// States queued at blocks (after deduplication).
    pub states_stored: u64,
    /// Most states queued at once.
    pub peak_states: u64,
}

/// One line of the verifier log: the state before an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The instruction.
    pub insn: InsnIdx,
    /// The abstract state before it, rendered (`R1=ctx R10=fp ...`).
    pub state: String,
}

/// The per-instruction states of an accepted program (`--emit verifier-log`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// In analysis order (an instruction appears once per state and
    /// loop iteration that reached it).
    pub lines: Vec<LogLine>,
    /// The program, to print each instruction.
    pub slots: Vec<Insn>,
}

impl fmt::Display for Log {
    /// `12: r1 = r6  ; R1=ctx R6=ctx R10=fp`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            let pc = l.insn.as_usize();
            match self.slots.get(pc..).map(Op::decode) {
                Some(Ok(op)) => writeln!(f, "{}: {op}  ; {}", l.insn, l.state)?,
                _ => writeln!(f, "{}: ; {}", l.insn, l.state)?,
            }
        }
        if self.lines.len() >= explore::MAX_LOG_LINES {
            writeln!(f, "(log truncated at {} lines)", explore::MAX_LOG_LINES)?;
        }
        Ok(())
    }
}

/// An accepted program.
#[derive(Clone, Debug)]
pub struct Verified {
    /// What the JIT may rely on.
    pub facts: Facts,
    /// How much work it took.
    pub stats: Stats,
    /// The per-instruction states, if [`Options::log`] asked for them.
    pub log: Option<Log>,
}

/// Verify one program of an object against the object's maps. A rejection
/// carries the source span from the program's line table.
pub fn verify(
    program: &ProgramDef,
    maps: &[MapDef],
    options: &Options,
) -> Result<Verified, Rejection> {
    verify_insns(&program.insns, program.attach.point, maps, options).map_err(|mut r| {
        r.span = program.span_of(r.insn);
        r
    })
}

/// Verify raw instruction slots attached at `point` (no line table).
pub fn verify_insns(
    insns: &[Insn],
    point: AttachPoint,
    maps: &[MapDef],
    options: &Options,
) -> Result<Verified, Rejection> {
    let mut work = 0;
    let prog =
        cfg::Program::build(insns, maps, options.max_steps, &mut work).map_err(|(at, kind)| {
            let pc = at.as_usize();
            let slots = insns
                .get(pc..(pc + 2).min(insns.len()))
                .map(|s| match Op::decode(s) {
                    Ok(op) => s.iter().take(op.slots()).copied().collect(),
                    Err(_) => s.iter().take(1).copied().collect(),
                })
                .unwrap_or_default();
            Rejection {
                code: kind.code(),
                insn: at,
                slots,
                kind,
                state: RegisterDump::default(),
                span: None,
            }
        })?;
    let env = exec::Env { maps, point };
    let mut a = explore::Analyzer::new(&prog, env, options, work);
    a.run()?;
    Ok(Verified {
        facts: a.facts(),
        stats: a.stats(),
        log: a.log.take().map(|lines| Log {
            lines,
            slots: insns.to_vec(),
        }),
    })
}
