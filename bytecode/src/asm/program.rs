//! Assembling a whole program: lines to slots, then labels to offsets.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::error::{AsmError, AsmErrorKind};
use super::lex::LineError;
use super::parse::{Fixup, FixupKind, parse_line};
use crate::abi::helpers;
use crate::insn::{CallTarget, HelperId, Insn, Op};

/// Position of a line in the source.
#[derive(Clone, Copy)]
struct LineAt<'a> {
    /// 1-based line number.
    number: u32,
    /// Byte offset of the line's start in the source.
    offset: usize,
    /// The line's text, without its line ending.
    text: &'a str,
}

impl LineAt<'_> {
    fn error(self, start: usize, end: usize, kind: AsmErrorKind) -> AsmError {
        // `start` comes from the lexer and is a char boundary of `text`;
        // `get` keeps this total regardless.
        let before = self.text.get(..start).unwrap_or(self.text);
        let column = before.chars().count().saturating_add(1);
        AsmError {
            line: self.number,
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset: self.offset.saturating_add(start),
            len: end.saturating_sub(start),
            kind,
        }
    }

    fn line_error(self, e: LineError) -> AsmError {
        self.error(e.start, e.end, e.kind)
    }
}

/// An instruction still waiting for its label.
struct Pending<'a> {
    at: LineAt<'a>,
    /// Index of the instruction's first slot.
    slot: u64,
    /// Index into the output list of instructions.
    index: usize,
    fixup: Fixup<'a>,
}

/// At least one error, sorted by position.
pub(super) struct Errors {
    pub first: AsmError,
    pub rest: Vec<AsmError>,
}

/// Assemble `text`, collecting every error.
pub(super) fn assemble_all(text: &str) -> Result<Vec<Insn>, Box<Errors>> {
    let mut errors = Vec::new();
    let mut ops: Vec<Op> = Vec::new();
    let mut pending = Vec::new();
    // Label name -> (line it is defined on, slot it names).
    let mut labels: BTreeMap<&str, (u32, u64)> = BTreeMap::new();
    let mut slot: u64 = 0;
    let mut offset = 0usize;
    for (i, raw) in text.split('\n').enumerate() {
        let at = LineAt {
            number: u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX),
            offset,
            text: raw.strip_suffix('\r').unwrap_or(raw),
        };
        offset = offset.saturating_add(raw.len() + 1);
        let line = match parse_line(at.text) {
            Ok(line) => line,
            Err(e) => {
                errors.push(at.line_error(e));
                continue;
            }
        };
        if let Some((name, start, end)) = line.label {
            if let Some(&(first_line, _)) = labels.get(name) {
                errors.push(at.error(
                    start,
                    end,
                    AsmErrorKind::DuplicateLabel {
                        name: name.to_string(),
                        first_line,
                    },
                ));
            } else {
                labels.insert(name, (at.number, slot));
            }
        }
        if let Some((op, fixup)) = line.insn {
            if let Some(fixup) = fixup {
                pending.push(Pending {
                    at,
                    slot,
                    index: ops.len(),
                    fixup,
                });
            }
            slot += op.slots() as u64;
            ops.push(op);
        }
    }
    // A line that failed to parse may have been an lddw, so slot numbers
    // after it are uncertain: still report unknown labels, but not ranges.
    let slots_known = errors.is_empty();
    for p in &pending {
        if let Err(e) = resolve(p, &labels, &mut ops, slots_known) {
            errors.push(e);
        }
    }
    errors.sort_by_key(|e| (e.line, e.column));
    let mut errors = errors.into_iter();
    if let Some(first) = errors.next() {
        return Err(Box::new(Errors {
            first,
            rest: errors.collect(),
        }));
    }
    let mut out = Vec::with_capacity(slot as usize);
    for op in &ops {
        let (enc, n) = op.encode();
        out.extend_from_slice(&enc[..n]);
    }
    Ok(out)
}

/// Patch one label reference into its instruction.
fn resolve(
    p: &Pending<'_>,
    labels: &BTreeMap<&str, (u32, u64)>,
    ops: &mut [Op],
    slots_known: bool,
) -> Result<(), AsmError> {
    let f = &p.fixup;
    let err = |kind| p.at.error(f.start, f.end, kind);
    let label = labels.get(f.name);
    if f.kind == FixupKind::Call {
        let helper = helpers::by_name(f.name);
        match (helper, label) {
            (Some(_), Some(_)) => return Err(err(AsmErrorKind::AmbiguousCall(f.name.to_string()))),
            (Some(h), None) => {
                set(ops, p.index, Op::Call(CallTarget::Helper(HelperId(h.id.0))));
                return Ok(());
            }
            (None, None) => return Err(err(AsmErrorKind::UnknownHelper(f.name.to_string()))),
            (None, Some(_)) => {}
        }
    }
    let Some(&(_, target)) = label else {
        return Err(err(AsmErrorKind::UnknownLabel(f.name.to_string())));
    };
    if !slots_known {
        return Ok(());
    }
    // Offsets are relative to the slot after the (one-slot) jump or call.
    // Slot counts are bounded by the text length, so this cannot overflow.
    let offset = target as i64 - (p.slot as i64 + 1);
    let (min, max) = match f.kind {
        FixupKind::Short => (i64::from(i16::MIN), i64::from(i16::MAX)),
        FixupKind::Long | FixupKind::Call => (i64::from(i32::MIN), i64::from(i32::MAX)),
    };
    if !(min..=max).contains(&offset) {
        return Err(err(AsmErrorKind::JumpOutOfRange {
            label: f.name.to_string(),
            offset,
            min,
            max,
        }));
    }
    let Some(op) = ops.get(p.index).copied() else {
        return Ok(());
    };
    let patched = match op {
        Op::Ja { long, .. } => Op::Ja {
            off: offset as i32,
            long,
        },
        Op::Jmp {
            width,
            cond,
            dst,
            src,
            ..
        } => Op::Jmp {
            width,
            cond,
            dst,
            src,
            off: offset as i16,
        },
        Op::Call(_) => Op::Call(CallTarget::Local(offset as i32)),
        other => other,
    };
    set(ops, p.index, patched);
    Ok(())
}

fn set(ops: &mut [Op], index: usize, op: Op) {
    if let Some(slot) = ops.get_mut(index) {
        *slot = op;
    }
}
