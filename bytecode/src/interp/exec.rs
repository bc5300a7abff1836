//! The fetch-execute loop over decoded [`Op`]s.
//!
//! Registers carry two bits of shadow state besides their value: whether
//! they were written (reading an unwritten register traps, as the Linux
//! verifier rejects it) and whether the value carries pointer bits. Both are
//! kept in either mode (they cost a few bit operations); only the checked
//! mode acts on them.

use alloc::vec::Vec;

use super::alu;
use super::helper_call;
use super::memory::Memory;
use super::trap::{LeakSink, Trap, TrapKind};
use super::{Config, Env, Exit};
use crate::insn::{
    AluOp, AtomicOp, CallTarget, InsnIdx, LoadImmKind, MapIdx, Op, Operand, Reg, Size, Width,
};

const FP: usize = Reg::FP.index();

/// A caller's state saved across a local call.
struct Saved {
    ret: usize,
    regs: [u64; 4],
    written: u16,
    pointer: u16,
}

/// Registers r6-r9 as a bit mask.
const CALLEE_SAVED: u16 = 0b11_1100_0000;
/// Registers r1-r5 as a bit mask.
const ARGS: u16 = 0b11_1110;

pub(crate) struct Machine<'a, 'ctx> {
    ops: &'a [Option<Op>],
    pub(crate) mem: Memory<'ctx>,
    pub(crate) env: &'a mut dyn Env,
    regs: [u64; 11],
    /// Bit `n`: rN was written.
    written: u16,
    /// Bit `n`: rN carries pointer bits.
    pointer: u16,
    calls: Vec<Saved>,
    max_frames: usize,
}

pub(crate) fn execute(
    ops: &[Option<Op>],
    mem: Memory<'_>,
    env: &mut dyn Env,
    cfg: &Config,
) -> Result<Exit, Trap> {
    let mut m = Machine {
        ops,
        regs: [0; 11],
        written: 0,
        pointer: 0,
        calls: Vec::new(),
        // Frames are allocated as calls need them; the clamp bounds that
        // memory (64 KiB) whatever the configuration says.
        max_frames: cfg.max_frames.clamp(1, super::MAX_FRAMES),
        mem,
        env,
    };
    m.regs[1] = m.mem.ctx_ptr();
    m.regs[FP] = m.mem.frame_pointer();
    m.written = 1 << 1 | 1 << FP;
    m.pointer = 1 << 1 | 1 << FP;

    let mut pc = 0usize;
    let mut last = 0usize;
    let mut steps = 0u64;
    loop {
        let Some(slot) = ops.get(pc) else {
            // Only sequential flow gets here (jump targets are checked), so
            // the last instruction run is the one that ran off the end.
            return Err(trap(last, TrapKind::FellOffEnd));
        };
        // Jumps never land on an lddw's second half, and sequential flow
        // steps over it, so every reachable slot holds an op.
        let Some(op) = *slot else {
            return Err(trap(pc, TrapKind::BadJumpTarget { target: pc as i64 }));
        };
        if steps >= cfg.fuel {
            return Err(trap(pc, TrapKind::FuelExhausted));
        }
        steps += 1;
        last = pc;
        match m.step(pc, op) {
            Ok(Flow::Next) => pc += op.slots(),
            Ok(Flow::Goto(t)) => pc = t,
            Ok(Flow::Exit(r0)) => return Ok(Exit { r0, steps }),
            Err(kind) => return Err(trap(pc, kind)),
        }
    }
}

fn trap(pc: usize, kind: TrapKind) -> Trap {
    Trap {
        at: InsnIdx(pc as u32),
        kind,
    }
}

enum Flow {
    Next,
    Goto(usize),
    Exit(u64),
}

impl Machine<'_, '_> {
    /// Read a register; an unwritten one traps in checked mode.
    pub(crate) fn get(&self, r: Reg) -> Result<u64, TrapKind> {
        let i = r.index();
        if self.mem.checked() && self.written & (1 << i) == 0 {
            return Err(TrapKind::UninitializedRegister(r));
        }
        Ok(self.regs[i])
    }

    /// A register's value, written or not.
    pub(crate) fn regs_raw(&self, r: Reg) -> u64 {
        self.regs[r.index()]
    }

    /// Whether a register's value carries pointer bits.
    pub(crate) fn is_pointer(&self, r: Reg) -> bool {
        self.pointer & (1 << r.index()) != 0
    }

    pub(crate) fn set(&mut self, r: Reg, v: u64, pointer: bool) -> Result<(), TrapKind> {
        let i = r.index();
        if i == FP {
            return Err(TrapKind::FramePointerWrite);
        }
        self.regs[i] = v;
        self.written |= 1 << i;
        if pointer {
            self.pointer |= 1 << i;
        } else {
            self.pointer &= !(1 << i);
        }
        Ok(())
    }

    /// Forget r1-r5: calls clobber them.
    pub(crate) fn clobber_args(&mut self) {
        self.written &= !ARGS;
        self.pointer &= !ARGS;
    }

    fn operand(&self, src: Operand) -> Result<(u64, bool), TrapKind> {
        match src {
            Operand::Reg(r) => Ok((self.get(r)?, self.is_pointer(r))),
            // Sign-extended to 64 bits; 32-bit operations then look only at
            // the low half, which is the immediate itself.
            Operand::Imm(i) => Ok((i64::from(i) as u64, false)),
        }
    }

    fn target(&self, pc: usize, off: i64) -> Result<usize, TrapKind> {
        let t = pc as i64 + 1 + off;
        match usize::try_from(t).ok().and_then(|t| self.ops.get(t)) {
            Some(Some(_)) => Ok(t as usize),
            _ => Err(TrapKind::BadJumpTarget { target: t }),
        }
    }

    fn step(&mut self, pc: usize, op: Op) -> Result<Flow, TrapKind> {
        match op {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (s, sp) = self.operand(src)?;
                if op == AluOp::Mov {
                    self.set(dst, alu::alu(width, op, 0, s), sp)?;
                } else {
                    let d = self.get(dst)?;
                    let dp = self.is_pointer(dst);
                    let pointer = match (dp, sp) {
                        // A difference of two pointers into one object is a
                        // plain offset; across objects it reveals layout.
                        (true, true) if op == AluOp::Sub && width == Width::W64 => {
                            let (a, b) = (self.mem.region_of(d), self.mem.region_of(s));
                            a.is_none() || a != b
                        }
                        (a, b) => a || b,
                    };
                    self.set(dst, alu::alu(width, op, d, s), pointer)?;
                }
            }
            Op::Neg { width, dst } => {
                let d = self.get(dst)?;
                self.set(dst, alu::neg(width, d), self.is_pointer(dst))?;
            }
            Op::MovSx {
                width,
                dst,
                src,
                bits,
            } => {
                let s = self.get(src)?;
                self.set(dst, alu::movsx(width, s, bits), self.is_pointer(src))?;
            }
            Op::Swap { order, dst, bits } => {
                let d = self.get(dst)?;
                self.set(dst, alu::swap(order, d, bits), self.is_pointer(dst))?;
            }
            Op::LoadImm64 {
                kind,
                dst,
                imm_lo,
                imm_hi,
            } => match kind {
                LoadImmKind::Imm64 => {
                    let v = u64::from(imm_lo as u32) | u64::from(imm_hi as u32) << 32;
                    self.set(dst, v, false)?;
                }
                LoadImmKind::Map => {
                    let idx = MapIdx(imm_lo as u32);
                    let h = self.env.map_handle(idx).ok_or(TrapKind::UnknownMap(idx))?;
                    // A map handle is a kernel address: it must not leave.
                    self.set(dst, h, true)?;
                }
                other => return Err(TrapKind::UnsupportedLoadImm(other)),
            },
            Op::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let addr = self.get(src)?.wrapping_add(i64::from(off) as u64);
                let (v, p) = self.mem.load(addr, size.bytes())?;
                let v = if signed {
                    alu::sign_extend(v, size.bytes())
                } else {
                    v
                };
                self.set(dst, v, p)?;
            }
            Op::Store {
                size,
                dst,
                off,
                src,
            } => {
                let addr = self.get(dst)?.wrapping_add(i64::from(off) as u64);
                let (v, p) = self.operand(src)?;
                self.mem.store(addr, size.bytes(), v, p)?;
            }
            Op::Atomic {
                size,
                op,
                dst,
                off,
                src,
            } => self.atomic(size, op, dst, off, src)?,
            Op::Ja { off, .. } => return Ok(Flow::Goto(self.target(pc, i64::from(off))?)),
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let d = self.get(dst)?;
                let (s, _) = self.operand(src)?;
                if alu::jump_taken(width, cond, d, s) {
                    return Ok(Flow::Goto(self.target(pc, i64::from(off))?));
                }
            }
            Op::Call(CallTarget::Helper(id)) => helper_call::call(self, id)?,
            Op::Call(CallTarget::Local(off)) => {
                let t = self.target(pc, i64::from(off))?;
                if self.calls.len() + 1 >= self.max_frames {
                    return Err(TrapKind::CallDepth);
                }
                let mut regs = [0; 4];
                regs.copy_from_slice(&self.regs[6..10]);
                self.calls.push(Saved {
                    ret: pc + 1,
                    regs,
                    written: self.written & CALLEE_SAVED,
                    pointer: self.pointer & CALLEE_SAVED,
                });
                // The callee sees the caller's r1-r5 as arguments, and must
                // write r0 and r6-r9 before reading them, as in Linux (in
                // native code they hold whatever the caller left there).
                self.written &= !(CALLEE_SAVED | 1);
                self.pointer &= !(CALLEE_SAVED | 1);
                self.regs[FP] = self.mem.push_frame();
                return Ok(Flow::Goto(t));
            }
            Op::Call(CallTarget::Btf(_)) => return Err(TrapKind::UnsupportedCall),
            Op::Exit => {
                let r0 = self.get(Reg::R0)?;
                let Some(saved) = self.calls.pop() else {
                    if self.mem.checked() && self.is_pointer(Reg::R0) {
                        return Err(TrapKind::PointerLeak(LeakSink::ExitValue));
                    }
                    return Ok(Flow::Exit(r0));
                };
                self.mem.pop_frame();
                self.regs[6..10].copy_from_slice(&saved.regs);
                self.written = (self.written & !CALLEE_SAVED) | saved.written;
                self.pointer = (self.pointer & !CALLEE_SAVED) | saved.pointer;
                self.regs[FP] = self.mem.frame_pointer();
                self.clobber_args();
                return Ok(Flow::Goto(saved.ret));
            }
        }
        Ok(Flow::Next)
    }

    fn atomic(
        &mut self,
        size: Size,
        op: AtomicOp,
        dst: Reg,
        off: i16,
        src: Reg,
    ) -> Result<(), TrapKind> {
        let addr = self.get(dst)?.wrapping_add(i64::from(off) as u64);
        let s = self.get(src)?;
        let sp = self.is_pointer(src);
        let bytes = size.bytes();
        // Values are compared and fetched at the access width; fetched
        // 32-bit values are zero-extended.
        let mask = if bytes == 8 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let expected = if op == AtomicOp::CmpXchg {
            self.get(Reg::R0)? & mask
        } else {
            0
        };
        let (old, old_p) = self.mem.rmw(addr, bytes, |old, old_p| match op {
            AtomicOp::Add { .. } => Some((old.wrapping_add(s), old_p || sp)),
            AtomicOp::Or { .. } => Some((old | s, old_p || sp)),
            AtomicOp::And { .. } => Some((old & s, old_p || sp)),
            AtomicOp::Xor { .. } => Some((old ^ s, old_p || sp)),
            AtomicOp::Xchg => Some((s, sp)),
            AtomicOp::CmpXchg => (old == expected).then_some((s, sp)),
        })?;
        let old = old & mask;
        match op {
            AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true }
            | AtomicOp::Xchg => self.set(src, old, old_p),
            AtomicOp::CmpXchg => self.set(Reg::R0, old, old_p),
            _ => Ok(()),
        }
    }
}
