//! What the translator knows about values within one block, to emit less
//! code than a literal translation would.
//!
//! The facts are simple and local: which registers hold a map handle, a
//! frame address (r10 plus a constant), a known constant or a pointer that
//! cannot be null, and which stack bytes of the current frame hold known
//! constants. Everything starts unknown at each block (values merge from
//! several predecessors there), and every instruction whose effect is not
//! modelled forgets what it may have changed. The payoff is in aggregation
//! updates: `@ = count()` stores its constant key on the stack, looks it up
//! in a per-CPU array and null-checks the result. With the key known, the
//! inlined lookup is a constant address plus this CPU's offset, the pointer
//! is known non-null, and the null check and the whole miss path vanish.
//!
//! Soundness rests on two points. A register's facts are only ever set from
//! what the instruction being translated computes. And stack facts can only
//! be trusted while nothing writes the stack behind our back: a store or
//! atomic through a register not known to point into the current frame, or
//! a helper that writes memory, forgets all of them.

use capscope_bytecode::abi::helpers::{self, Arg};
use capscope_bytecode::insn::{
    AluOp, AtomicOp, HelperId, JmpCond, LoadImmKind, MapIdx, Op, Operand, Reg, Size, Width,
};
use capscope_verifier::Branch;

/// What is known about one register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct RegFact {
    /// It holds the handle of this map (`lddw rX, map[N]`).
    pub(super) map: Option<MapIdx>,
    /// It holds the current frame's r10 plus this many bytes.
    pub(super) frame_off: Option<i64>,
    /// It holds this constant.
    pub(super) konst: Option<u64>,
    /// It holds a pointer that is not null.
    pub(super) nonnull: bool,
}

/// Known constant bytes of the current frame's stack.
#[derive(Clone, Copy, Debug)]
struct StackConst {
    /// Offset from r10 of the first byte.
    off: i64,
    /// Bytes (1, 2, 4 or 8).
    len: i64,
    /// Their value, little-endian, zero above `len` bytes.
    value: u64,
}

/// More known stack constants than this are not worth the lookups.
const MAX_STACK_CONSTS: usize = 16;

/// The facts of the block being translated.
pub(super) struct Track {
    regs: [RegFact; Reg::COUNT],
    stack: alloc::vec::Vec<StackConst>,
}

fn mask(len: i64) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    }
}

fn size_len(size: Size) -> i64 {
    match size {
        Size::B => 1,
        Size::H => 2,
        Size::W => 4,
        Size::DW => 8,
    }
}

impl Track {
    pub(super) fn new() -> Track {
        let mut t = Track {
            regs: [RegFact::default(); Reg::COUNT],
            stack: alloc::vec::Vec::new(),
        };
        t.reset();
        t
    }

    /// A new block: nothing is known except that r10 is the frame pointer.
    pub(super) fn reset(&mut self) {
        self.regs = [RegFact::default(); Reg::COUNT];
        self.regs[Reg::FP.index()].frame_off = Some(0);
        self.stack.clear();
    }

    pub(super) fn reg(&self, r: Reg) -> RegFact {
        self.regs[r.index()]
    }

    pub(super) fn set(&mut self, r: Reg, f: RegFact) {
        self.regs[r.index()] = f;
    }

    /// `r` was written with something not modelled.
    pub(super) fn clobber(&mut self, r: Reg) {
        self.set(r, RegFact::default());
    }

    /// The `len` bytes at `ptr` (a register), if `ptr` points into the
    /// current frame and a single known constant covers them.
    pub(super) fn stack_bytes(&self, ptr: Reg, len: i64) -> Option<u64> {
        let off = self.reg(ptr).frame_off?;
        let c = self
            .stack
            .iter()
            .rev()
            .find(|c| c.off <= off && off + len <= c.off + c.len)?;
        Some((c.value >> (8 * (off - c.off))) & mask(len))
    }

    /// `len` bytes at frame offset `off` now hold `value` (`None`: unknown).
    fn write_stack(&mut self, off: i64, len: i64, value: Option<u64>) {
        self.stack
            .retain(|c| c.off + c.len <= off || off + len <= c.off);
        if let Some(v) = value {
            if self.stack.len() >= MAX_STACK_CONSTS {
                self.stack.remove(0);
            }
            self.stack.push(StackConst {
                off,
                len,
                value: v & mask(len),
            });
        }
    }

    /// Memory was written at `base + off`: update the stack facts if that
    /// is the current frame, else forget them all (it might have been).
    fn write_mem(&mut self, base: Reg, off: i16, len: i64, value: Option<u64>) {
        match self.reg(base).frame_off {
            Some(f) => self.write_stack(f + i64::from(off), len, value),
            None => self.stack.clear(),
        }
    }

    /// A helper call: r1-r5 are clobbered, and memory the helper may write
    /// (by the ABI's table; unknown helpers may write anything) forgotten.
    /// The caller sets r0's fact afterwards.
    pub(super) fn call(&mut self, helper: HelperId) {
        for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            self.clobber(r);
        }
        self.clobber(Reg::R0);
        let writes = helpers::find(helper).is_none_or(|h| h.args.contains(&Arg::WriteMem));
        if writes {
            self.stack.clear();
        }
    }

    /// The facts after `op` (anything but a call, which [`Track::call`]
    /// handles), from the facts before it.
    pub(super) fn step(&mut self, op: Op) {
        match op {
            Op::Alu {
                width,
                op: alu,
                dst,
                src,
            } => {
                let before = self.reg(dst);
                let after = match (width, alu, src) {
                    (Width::W64, AluOp::Mov, Operand::Reg(s)) => self.reg(s),
                    (Width::W32, AluOp::Mov, Operand::Reg(s)) => RegFact {
                        konst: self.reg(s).konst.map(|v| v & 0xffff_ffff),
                        ..RegFact::default()
                    },
                    (Width::W64, AluOp::Mov, Operand::Imm(k)) => RegFact {
                        konst: Some(i64::from(k) as u64),
                        ..RegFact::default()
                    },
                    (Width::W32, AluOp::Mov, Operand::Imm(k)) => RegFact {
                        konst: Some(u64::from(k as u32)),
                        ..RegFact::default()
                    },
                    (Width::W64, AluOp::Add | AluOp::Sub, Operand::Imm(k)) => {
                        let k = if alu == AluOp::Add {
                            i64::from(k)
                        } else {
                            -i64::from(k)
                        };
                        RegFact {
                            frame_off: before.frame_off.map(|f| f + k),
                            konst: before.konst.map(|v| v.wrapping_add(k as u64)),
                            ..RegFact::default()
                        }
                    }
                    _ => RegFact::default(),
                };
                self.set(dst, after);
            }
            Op::Neg { dst, .. }
            | Op::MovSx { dst, .. }
            | Op::Swap { dst, .. }
            | Op::Load { dst, .. } => self.clobber(dst),
            Op::LoadImm64 {
                kind,
                dst,
                imm_lo,
                imm_hi,
            } => {
                let f = match kind {
                    LoadImmKind::Imm64 => RegFact {
                        konst: Some(u64::from(imm_lo as u32) | (u64::from(imm_hi as u32) << 32)),
                        ..RegFact::default()
                    },
                    LoadImmKind::Map => RegFact {
                        map: Some(MapIdx(imm_lo as u32)),
                        ..RegFact::default()
                    },
                    _ => RegFact::default(),
                };
                self.set(dst, f);
            }
            Op::Store {
                size,
                dst,
                off,
                src,
            } => {
                let value = match src {
                    Operand::Imm(k) => Some(i64::from(k) as u64),
                    Operand::Reg(r) => self.reg(r).konst,
                };
                self.write_mem(dst, off, size_len(size), value);
            }
            Op::Atomic {
                size,
                op: aop,
                dst,
                off,
                src,
            } => {
                self.write_mem(dst, off, size_len(size), None);
                match aop {
                    AtomicOp::CmpXchg => self.clobber(Reg::R0),
                    AtomicOp::Xchg
                    | AtomicOp::Add { fetch: true }
                    | AtomicOp::Or { fetch: true }
                    | AtomicOp::And { fetch: true }
                    | AtomicOp::Xor { fetch: true } => self.clobber(src),
                    _ => {}
                }
            }
            Op::Ja { .. } | Op::Jmp { .. } | Op::Call(_) | Op::Exit => {}
        }
    }

    /// Whether the facts decide the conditional jump `if dst cond src`: a
    /// pointer known non-null, or a known constant, compared with 0.
    pub(super) fn decide(&self, width: Width, cond: JmpCond, dst: Reg, src: Operand) -> Branch {
        if src != Operand::Imm(0) || !matches!(cond, JmpCond::Eq | JmpCond::Ne) {
            return Branch::Unknown;
        }
        let f = self.reg(dst);
        let zero = match (f.nonnull, f.konst) {
            (true, _) if width == Width::W64 => false,
            (_, Some(v)) => match width {
                Width::W64 => v == 0,
                Width::W32 => v as u32 == 0,
            },
            _ => return Branch::Unknown,
        };
        if zero == (cond == JmpCond::Eq) {
            Branch::AlwaysTaken
        } else {
            Branch::NeverTaken
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(size: Size, off: i16, k: i32) -> Op {
        Op::Store {
            size,
            dst: Reg::FP,
            off,
            src: Operand::Imm(k),
        }
    }

    fn r(n: u8) -> Reg {
        Reg::new(n).unwrap()
    }

    fn add(dst: u8, k: i32) -> Op {
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r(dst),
            src: Operand::Imm(k),
        }
    }

    fn mov(dst: u8, src: u8) -> Op {
        Op::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(dst),
            src: Operand::Reg(r(src)),
        }
    }

    #[test]
    fn stack_constants_through_frame_pointers() {
        let mut t = Track::new();
        t.step(st(Size::DW, -8, 0x0102_0304));
        t.step(mov(2, 10));
        t.step(add(2, -8));
        assert_eq!(t.stack_bytes(r(2), 4), Some(0x0102_0304));
        assert_eq!(t.stack_bytes(r(2), 8), Some(0x0102_0304));
        t.step(add(2, 2));
        assert_eq!(t.stack_bytes(r(2), 2), Some(0x0102));
        // Partly outside the known bytes.
        t.step(add(2, 4));
        assert_eq!(t.stack_bytes(r(2), 4), None);
        // Negative immediates sign-extend to 8 bytes.
        t.step(st(Size::DW, -16, -1));
        t.step(mov(3, 10));
        t.step(add(3, -12));
        assert_eq!(t.stack_bytes(r(3), 4), Some(0xffff_ffff));
    }

    #[test]
    fn overlapping_and_unknown_writes_forget() {
        let mut t = Track::new();
        t.step(st(Size::DW, -8, 7));
        t.step(mov(2, 10));
        t.step(add(2, -8));
        // A byte store inside the constant replaces it.
        t.step(st(Size::B, -5, 1));
        assert_eq!(t.stack_bytes(r(2), 4), None);
        t.step(st(Size::W, -8, 9));
        assert_eq!(t.stack_bytes(r(2), 4), Some(9));
        // A store through a register that is not a known frame address may
        // point anywhere, the stack included.
        t.step(Op::Store {
            size: Size::B,
            dst: r(6),
            off: 0,
            src: Operand::Imm(0),
        });
        assert_eq!(t.stack_bytes(r(2), 4), None);
        // So may a helper that writes memory; a lookup writes none.
        t.step(st(Size::W, -8, 9));
        t.call(capscope_bytecode::abi::helpers::id::MAP_LOOKUP_ELEM);
        t.step(mov(2, 10));
        t.step(add(2, -8));
        assert_eq!(t.stack_bytes(r(2), 4), Some(9));
        t.call(capscope_bytecode::abi::helpers::id::PROBE_READ_USER);
        t.step(mov(2, 10));
        t.step(add(2, -8));
        assert_eq!(t.stack_bytes(r(2), 4), None);
        // An unknown helper may write anything.
        t.step(st(Size::W, -8, 9));
        t.call(HelperId(4000));
        t.step(mov(2, 10));
        t.step(add(2, -8));
        assert_eq!(t.stack_bytes(r(2), 4), None);
    }

    #[test]
    fn branches_on_known_values() {
        let mut t = Track::new();
        t.set(
            Reg::R0,
            RegFact {
                nonnull: true,
                ..RegFact::default()
            },
        );
        let z = Operand::Imm(0);
        assert_eq!(
            t.decide(Width::W64, JmpCond::Eq, Reg::R0, z),
            Branch::NeverTaken
        );
        assert_eq!(
            t.decide(Width::W64, JmpCond::Ne, Reg::R0, z),
            Branch::AlwaysTaken
        );
        // The low half of a non-null pointer may be zero.
        assert_eq!(
            t.decide(Width::W32, JmpCond::Eq, Reg::R0, z),
            Branch::Unknown
        );
        assert_eq!(
            t.decide(Width::W64, JmpCond::Gt, Reg::R0, z),
            Branch::Unknown
        );
        t.step(Op::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(3),
            src: Operand::Imm(0),
        });
        assert_eq!(
            t.decide(Width::W64, JmpCond::Eq, r(3), z),
            Branch::AlwaysTaken
        );
        t.step(add(3, 1 << 20));
        t.step(Op::Alu {
            width: Width::W64,
            op: AluOp::Lsh,
            dst: r(3),
            src: Operand::Imm(12),
        });
        assert_eq!(t.decide(Width::W64, JmpCond::Eq, r(3), z), Branch::Unknown);
        t.reset();
        assert_eq!(
            t.decide(Width::W64, JmpCond::Eq, Reg::R0, z),
            Branch::Unknown
        );
    }
}
