//! Loads, stores, atomics and `lddw`.
//!
//! Addresses are real (the context, the native stack slot behind r10, map
//! values from helpers), and the verifier proved every access in bounds, so
//! each access is one native instruction with no check.

use capscope_bytecode::insn::{AtomicOp, LoadImmKind, MapIdx, Operand, Reg, Size};
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{AtomicRmwOp, InstBuilder};

use super::{Translator, mem_flags};
use crate::error::{JitError, Result};

impl Translator<'_, '_> {
    /// `dst = *(size *)(src + off)`, zero- or (`MEMSX`) sign-extended.
    pub(super) fn load(&mut self, size: Size, signed: bool, dst: Reg, src: Reg, off: i16) {
        let base = self.get(src);
        let off = i32::from(off);
        let f = mem_flags();
        let ins = self.b.ins();
        let v = match (size, signed) {
            (Size::B, false) => ins.uload8(I64, f, base, off),
            (Size::B, true) => ins.sload8(I64, f, base, off),
            (Size::H, false) => ins.uload16(I64, f, base, off),
            (Size::H, true) => ins.sload16(I64, f, base, off),
            (Size::W, false) => ins.uload32(f, base, off),
            (Size::W, true) => ins.sload32(f, base, off),
            (Size::DW, _) => ins.load(I64, f, base, off),
        };
        self.set(dst, v);
    }

    /// `*(size *)(dst + off) = src`; an immediate is sign-extended first.
    pub(super) fn store(&mut self, size: Size, dst: Reg, off: i16, src: Operand) {
        let v = match src {
            Operand::Reg(r) => self.get(r),
            Operand::Imm(imm) => self.iconst(I64, i64::from(imm)),
        };
        let base = self.get(dst);
        let off = i32::from(off);
        let f = mem_flags();
        let ins = self.b.ins();
        match size {
            Size::B => ins.istore8(f, v, base, off),
            Size::H => ins.istore16(f, v, base, off),
            Size::W => ins.istore32(f, v, base, off),
            Size::DW => ins.store(f, v, base, off),
        };
    }

    /// Atomic read-modify-write at `dst + off`. Fetched values are
    /// zero-extended for 32-bit operations, as in the interpreter.
    pub(super) fn atomic(&mut self, size: Size, op: AtomicOp, dst: Reg, off: i16, src: Reg) {
        let ty = if size == Size::W { I32 } else { I64 };
        let base = self.get(dst);
        let addr = if off == 0 {
            base
        } else {
            self.b.ins().iadd_imm_s(base, i64::from(off))
        };
        let s = self.get(src);
        let operand = if ty == I32 {
            self.b.ins().ireduce(I32, s)
        } else {
            s
        };
        let f = mem_flags();
        let (rmw, fetch_into) = match op {
            AtomicOp::Add { fetch } => (AtomicRmwOp::Add, fetch.then_some(src)),
            AtomicOp::Or { fetch } => (AtomicRmwOp::Or, fetch.then_some(src)),
            AtomicOp::And { fetch } => (AtomicRmwOp::And, fetch.then_some(src)),
            AtomicOp::Xor { fetch } => (AtomicRmwOp::Xor, fetch.then_some(src)),
            AtomicOp::Xchg => (AtomicRmwOp::Xchg, Some(src)),
            AtomicOp::CmpXchg => {
                let r0 = self.get(Reg::R0);
                let expected = if ty == I32 {
                    self.b.ins().ireduce(I32, r0)
                } else {
                    r0
                };
                let old = self.b.ins().atomic_cas(f, addr, expected, operand);
                let old = if ty == I32 {
                    self.b.ins().uextend(I64, old)
                } else {
                    old
                };
                self.set(Reg::R0, old);
                return;
            }
        };
        let old = self.b.ins().atomic_rmw(ty, f, rmw, addr, operand);
        if let Some(r) = fetch_into {
            let old = if ty == I32 {
                self.b.ins().uextend(I64, old)
            } else {
                old
            };
            self.set(r, old);
        }
    }

    /// `lddw`: a 64-bit constant, or a map's handle from the linker.
    pub(super) fn load_imm64(
        &mut self,
        kind: LoadImmKind,
        dst: Reg,
        imm_lo: i32,
        imm_hi: i32,
    ) -> Result<()> {
        match kind {
            LoadImmKind::Imm64 => {
                let v = (u64::from(imm_lo as u32) | (u64::from(imm_hi as u32) << 32)) as i64;
                let c = self.b.ins().iconst(I64, v);
                self.set(dst, c);
            }
            LoadImmKind::Map => {
                let map = MapIdx(imm_lo as u32);
                let handle = self
                    .linker
                    .map_handle(map)
                    .ok_or(JitError::UnknownMap { at: self.at, map })?;
                let c = self.b.ins().iconst(I64, handle as i64);
                self.set(dst, c);
            }
            _ => {
                return Err(JitError::Unsupported {
                    at: self.at,
                    what: crate::Unsupported::LoadImmKind,
                });
            }
        }
        Ok(())
    }
}
