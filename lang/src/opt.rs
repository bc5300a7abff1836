//! Stage 4: cleanups on the lowered code, before encoding.
//!
//! Lowering emits straightforward code with many labels; these passes
//! remove what cannot matter, repeating until nothing changes:
//! - jumps to jumps go straight to the final target;
//! - a jump to the very next instruction disappears;
//! - code after an unconditional jump or `exit` that no jump reaches is
//!   dropped (dead code, for example after `exit()` or a constant branch);
//! - moves of a register to itself disappear.
//!
//! None of these changes what a program computes, and each only removes
//! instructions, so the line table still maps every instruction to the
//! span that produced it.

use std::collections::HashSet;

use capscope_bytecode::insn::{AluOp, Op, Operand};

use crate::lower::Lowered;
use crate::lower::code::{Code, Label, MInsn};

/// Optimize every program of a lowered object.
pub fn optimize(lowered: &mut Lowered) {
    for p in &mut lowered.programs {
        optimize_code(&mut p.code);
    }
}

/// Optimize one program.
pub fn optimize_code(code: &mut Code) {
    for _ in 0..8 {
        let before = code.insns.len();
        thread_jumps(code);
        drop_dead(code);
        drop_trivial(code);
        if code.insns.len() == before {
            break;
        }
    }
}

/// The index of the first real instruction at or after `i`.
fn next_real(insns: &[(MInsn, crate::ast::Span)], mut i: usize) -> Option<usize> {
    while i < insns.len() {
        if !matches!(insns[i].0, MInsn::Bind(_)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn thread_jumps(code: &mut Code) {
    let mut at = vec![usize::MAX; code.label_count()];
    for (i, (ins, _)) in code.insns.iter().enumerate() {
        if let MInsn::Bind(l) = ins
            && let Some(slot) = at.get_mut(l.0 as usize)
        {
            *slot = i;
        }
    }
    // Where a label finally leads, following chains of `ja` (bounded, so
    // a cycle of jumps cannot hang the compiler).
    let resolve = |mut l: Label| {
        for _ in 0..16 {
            let Some(&pos) = at.get(l.0 as usize) else {
                break;
            };
            match next_real(&code.insns, pos).map(|j| code.insns[j].0) {
                Some(MInsn::Ja(next)) if next != l => l = next,
                _ => break,
            }
        }
        l
    };
    let new: Vec<Option<Label>> = code
        .insns
        .iter()
        .map(|(i, _)| i.target().map(resolve))
        .collect();
    for ((ins, _), t) in code.insns.iter_mut().zip(new) {
        match (ins, t) {
            (MInsn::Ja(l), Some(t)) => *l = t,
            (MInsn::Jmp { target, .. }, Some(t)) => *target = t,
            _ => {}
        }
    }
}

fn drop_dead(code: &mut Code) {
    let used: HashSet<Label> = code.insns.iter().filter_map(|(i, _)| i.target()).collect();
    let mut out = Vec::with_capacity(code.insns.len());
    let mut live = true;
    for (ins, span) in code.insns.drain(..) {
        if let MInsn::Bind(l) = ins {
            if used.contains(&l) {
                live = true;
                out.push((ins, span));
            }
            continue;
        }
        if live {
            live = !ins.ends_block();
            out.push((ins, span));
        }
    }
    code.insns = out;
}

fn drop_trivial(code: &mut Code) {
    let n = code.insns.len();
    let mut keep = vec![true; n];
    for (i, keep_i) in keep.iter_mut().enumerate() {
        match code.insns[i].0 {
            MInsn::Ja(l) => {
                // Only labels between here and the next real instruction.
                let mut j = i + 1;
                while j < n {
                    match code.insns[j].0 {
                        MInsn::Bind(b) if b == l => {
                            *keep_i = false;
                            break;
                        }
                        MInsn::Bind(_) => j += 1,
                        _ => break,
                    }
                }
            }
            MInsn::Op(Op::Alu {
                op: AluOp::Mov,
                dst,
                src: Operand::Reg(src),
                width: capscope_bytecode::insn::Width::W64,
            }) if dst == src => *keep_i = false,
            _ => {}
        }
    }
    let mut k = keep.into_iter();
    code.insns.retain(|_| k.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;
    use capscope_bytecode::insn::Reg;

    fn op(v: i32) -> MInsn {
        MInsn::Op(Op::Alu {
            width: capscope_bytecode::insn::Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(v),
        })
    }

    #[test]
    fn threads_jumps_and_drops_dead_code() {
        let mut code = Code::default();
        let (a, b, c) = (code.label(), code.label(), code.label());
        let s = Span::default();
        code.insns = vec![
            (
                MInsn::Jmp {
                    cond: capscope_bytecode::insn::JmpCond::Eq,
                    dst: Reg::R1,
                    src: Operand::Imm(0),
                    target: a,
                },
                s,
            ),
            (op(1), s),
            (MInsn::Ja(c), s),
            (op(2), s), // dead: after a jump, no label
            (MInsn::Bind(a), s),
            (MInsn::Ja(b), s), // a jump to a jump
            (MInsn::Bind(b), s),
            (MInsn::Bind(c), s),
            (op(3), s),
            (MInsn::Op(Op::Exit), s),
            (op(4), s), // dead: after exit
        ];
        optimize_code(&mut code);
        let real: Vec<MInsn> = code
            .insns
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| !matches!(i, MInsn::Bind(_)))
            .collect();
        // The conditional jump now goes straight to c's code; `ja c`
        // before it is a jump to the next instruction and disappears.
        assert_eq!(real.len(), 4, "{real:?}");
        assert!(matches!(real[0], MInsn::Jmp { target, .. } if target == c || target == b));
        assert_eq!(real[1], op(1));
        assert_eq!(real[2], op(3));
        let (slots, _) = code.encode().unwrap();
        assert_eq!(slots.len(), 4);
    }
}
