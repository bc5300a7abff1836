//! The text assembler and disassembler.
//!
//! The syntax is the one `llvm-objdump` prints for the BPF target and the
//! Linux verifier log uses: `r0 = *(u64 *)(r1 + 8)`, `w1 += 3`,
//! `if r1 > r2 goto -2`, `r1 = map[0] ll`, `call map_lookup_elem`.
//! `docs/bytecode.md` describes it in full.
//!
//! Guarantees:
//! - [`disassemble`] prints every valid instruction in one canonical
//!   spelling (the [`Display`](core::fmt::Display) of [`Op`](crate::Op)),
//!   and [`assemble`] reads that spelling back to the identical slots, so a
//!   round trip reproduces any valid program byte for byte.
//! - [`assemble`] also accepts labels (`loop:` and `goto loop`), comments
//!   (`;` or `//` to the end of the line), hex immediates and a few
//!   alternative spellings (`pc+3`, `wN` for 32-bit memory values, helper
//!   numbers).
//! - Neither panics on any input: errors are [`AsmError`] (line and column)
//!   or [`ProgramError`](crate::insn::ProgramError) (slot index).

mod error;
mod lex;
mod parse;
mod print;
mod program;
mod syntax;

use alloc::vec::Vec;

pub use error::{AsmError, AsmErrorKind};
pub use print::{disassemble, disassemble_numbered};

use crate::insn::Insn;

/// Assemble program text into slots (an `lddw` yields two).
///
/// Returns the first error, by position. See [`assemble_all_errors`] to get
/// every error of a run.
pub fn assemble(text: &str) -> Result<Vec<Insn>, AsmError> {
    program::assemble_all(text).map_err(|e| e.first)
}

/// Assemble program text, reporting every error (sorted by position)
/// instead of only the first; the list is never empty. Each line is checked
/// on its own, so one bad line does not hide errors on the others.
pub fn assemble_all_errors(text: &str) -> Result<Vec<Insn>, Vec<AsmError>> {
    program::assemble_all(text).map_err(|e| {
        let mut all = Vec::with_capacity(e.rest.len() + 1);
        all.push(e.first);
        all.extend(e.rest);
        all
    })
}
