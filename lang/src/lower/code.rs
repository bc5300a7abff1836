//! The instruction list lowering builds: RFC 9669 operations plus symbolic
//! jumps to labels, each with the source span it came from. The optimizer
//! rewrites it; [`Code::encode`] resolves labels into relative offsets and
//! produces the slots and the line table.

use capscope_bytecode::insn::{Insn, InsnIdx, JmpCond, Op, Operand, Reg, Width};
use capscope_bytecode::object::LineEntry;

use crate::ast::Span;

/// A jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// One instruction, or a label's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MInsn {
    /// Any instruction except jumps.
    Op(Op),
    /// A conditional 64-bit jump.
    Jmp {
        /// The comparison.
        cond: JmpCond,
        /// Left operand.
        dst: Reg,
        /// Right operand.
        src: Operand,
        /// Where to go when it holds.
        target: Label,
    },
    /// An unconditional jump.
    Ja(Label),
    /// Where a label points (emits nothing).
    Bind(Label),
}

impl MInsn {
    /// The label this jumps to, if it jumps.
    pub fn target(&self) -> Option<Label> {
        match self {
            MInsn::Jmp { target, .. } | MInsn::Ja(target) => Some(*target),
            _ => None,
        }
    }

    /// True when control never falls through to the next instruction.
    pub fn ends_block(&self) -> bool {
        matches!(self, MInsn::Ja(_) | MInsn::Op(Op::Exit))
    }
}

/// A program under construction.
#[derive(Clone, Debug, Default)]
pub struct Code {
    /// Instructions with their spans.
    pub insns: Vec<(MInsn, Span)>,
    labels: u32,
}

/// A jump that does not fit in the encoding's 16-bit offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JumpTooFar;

impl Code {
    /// A fresh label.
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Number of labels made.
    pub fn label_count(&self) -> usize {
        self.labels as usize
    }

    /// Slots the code takes once encoded.
    pub fn slots(&self) -> usize {
        self.insns
            .iter()
            .map(|(i, _)| match i {
                MInsn::Op(op) => op.slots(),
                MInsn::Bind(_) => 0,
                _ => 1,
            })
            .sum()
    }

    /// Resolve labels and encode. Line entries are emitted where the span
    /// changes, so every slot has the span of the construct it came from.
    pub fn encode(&self) -> Result<(Vec<Insn>, Vec<LineEntry>), JumpTooFar> {
        let mut at = vec![0usize; self.label_count()];
        let mut pc = 0usize;
        for (i, _) in &self.insns {
            match i {
                MInsn::Bind(l) => {
                    if let Some(slot) = at.get_mut(l.0 as usize) {
                        *slot = pc;
                    }
                }
                MInsn::Op(op) => pc += op.slots(),
                _ => pc += 1,
            }
        }
        let mut out = Vec::with_capacity(pc);
        let mut lines: Vec<LineEntry> = Vec::new();
        for (i, span) in &self.insns {
            let here = out.len();
            let rel = |l: &Label| -> Result<i16, JumpTooFar> {
                let to = at.get(l.0 as usize).copied().ok_or(JumpTooFar)? as i64;
                i16::try_from(to - here as i64 - 1).map_err(|_| JumpTooFar)
            };
            let op = match i {
                MInsn::Bind(_) => continue,
                MInsn::Op(op) => *op,
                MInsn::Jmp {
                    cond,
                    dst,
                    src,
                    target,
                } => Op::Jmp {
                    width: Width::W64,
                    cond: *cond,
                    dst: *dst,
                    src: *src,
                    off: rel(target)?,
                },
                MInsn::Ja(target) => Op::Ja {
                    off: i32::from(rel(target)?),
                    long: false,
                },
            };
            let s = capscope_bytecode::object::Span::from(*span);
            if lines.last().is_none_or(|e| e.span != s) {
                lines.push(LineEntry {
                    insn: InsnIdx(here as u32),
                    span: s,
                });
            }
            let (slots, n) = op.encode();
            out.extend_from_slice(&slots[..n]);
        }
        Ok((out, lines))
    }
}
