//! Arithmetic, byte swaps, sign extension and jump conditions.
//!
//! 32-bit operations work on `i32` values (the low halves) and zero-extend
//! their result, as RFC 9669 says. Cranelift's shifts already mask the
//! amount by the type's width, which is exactly eBPF's rule. Its divisions
//! trap on a zero divisor (and `sdiv` on `MIN / -1`), so every division by a
//! register goes through a guard that never lets those operands reach the
//! instruction; division by a constant needs no guard.

use capscope_bytecode::insn::{AluOp, JmpCond, Operand, Reg, SwapOrder, Width};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I8, I16, I32, I64};
use cranelift_codegen::ir::{InstBuilder, Type, Value};

use super::Translator;

impl Translator<'_, '_> {
    /// The second operand at width `ty`, and its value if it is a constant
    /// (sign-extended from the immediate, as the interpreter does).
    fn operand(&mut self, ty: Type, src: Operand) -> (Value, Option<i64>) {
        match src {
            Operand::Reg(r) => {
                let v = self.get(r);
                (self.narrow(ty, v), None)
            }
            Operand::Imm(imm) => (self.iconst(ty, i64::from(imm)), Some(i64::from(imm))),
        }
    }

    /// A constant of type `ty` holding the low bits of `v`.
    pub(super) fn iconst(&mut self, ty: Type, v: i64) -> Value {
        // Cranelift wants narrow immediates zero-extended from their width.
        let bits = ty.bits();
        let v = if bits < 64 {
            v & ((1i64 << bits) - 1)
        } else {
            v
        };
        self.b.ins().iconst(ty, v)
    }

    /// `v` (an i64) at width `ty`.
    fn narrow(&mut self, ty: Type, v: Value) -> Value {
        if ty == I64 {
            v
        } else {
            self.b.ins().ireduce(ty, v)
        }
    }

    /// Zero-extend a result of width `ty` into a 64-bit register value.
    fn widen(&mut self, ty: Type, v: Value) -> Value {
        if ty == I64 {
            v
        } else {
            self.b.ins().uextend(I64, v)
        }
    }

    /// `dst = dst op src`.
    pub(super) fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        // A frame address (`r2 = r10; r2 += -8`, how keys are passed) is
        // one `lea` off the stack pointer, computed where it is needed.
        if let Some(addr) = self.frame_address(dst) {
            self.set(dst, addr);
            return;
        }
        // A constant the facts computed (a move, or an add to one): the
        // folding Cranelift's e-graph would otherwise do.
        if let Some(v) = self.track.reg(dst).konst {
            let c = self.b.ins().iconst(I64, v as i64);
            self.set(dst, c);
            return;
        }
        let ty = ty_of(width);
        let (b, k) = self.operand(ty, src);
        let result = if op == AluOp::Mov {
            b
        } else {
            let d = self.get(dst);
            let a = self.narrow(ty, d);
            self.binary(ty, op, a, b, k)
        };
        let r = self.widen(ty, result);
        self.set(dst, r);
    }

    fn binary(&mut self, ty: Type, op: AluOp, a: Value, b: Value, k: Option<i64>) -> Value {
        // Identities and strength reductions the language's code has
        // (`r3 -= 0`, scaling by a power of two), done here so that the
        // code is good without Cranelift's e-graph pass (see isa.rs).
        match (op, k) {
            (
                AluOp::Add
                | AluOp::Sub
                | AluOp::Or
                | AluOp::Xor
                | AluOp::Lsh
                | AluOp::Rsh
                | AluOp::Arsh,
                Some(0),
            ) => return a,
            // 2^n as the sign-extended immediate; at 32 bits its low half.
            (AluOp::Mul, Some(k)) if k > 0 && (k as u64).is_power_of_two() => {
                return self.b.ins().ishl_imm_u(a, i64::from(k.trailing_zeros()));
            }
            _ => {}
        }
        let ins = self.b.ins();
        match op {
            AluOp::Add => ins.iadd(a, b),
            AluOp::Sub => ins.isub(a, b),
            AluOp::Mul => ins.imul(a, b),
            AluOp::Or => ins.bor(a, b),
            AluOp::And => ins.band(a, b),
            AluOp::Xor => ins.bxor(a, b),
            AluOp::Lsh => ins.ishl(a, b),
            AluOp::Rsh => ins.ushr(a, b),
            AluOp::Arsh => ins.sshr(a, b),
            AluOp::Mov => b,
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => match k {
                Some(k) => self.divide_by_constant(ty, op, a, b, k),
                None => self.divide_guarded(ty, op, a, b),
            },
        }
    }

    /// Division by an immediate: the RFC's special cases are known now.
    /// `k` is the sign-extended immediate; at 32 bits its low half is the
    /// divisor, and it is 0 or -1 exactly when the 32-bit divisor is.
    fn divide_by_constant(&mut self, ty: Type, op: AluOp, a: Value, b: Value, k: i64) -> Value {
        match (op, k) {
            (AluOp::Div, 0) => self.iconst(ty, 0),
            (AluOp::Mod | AluOp::SMod, 0) => a,
            (AluOp::SDiv, 0) => self.iconst(ty, 0),
            (AluOp::SDiv, -1) => self.b.ins().ineg(a),
            (AluOp::SMod, -1) => self.iconst(ty, 0),
            (AluOp::Div, _) => self.b.ins().udiv(a, b),
            (AluOp::Mod, _) => self.b.ins().urem(a, b),
            (AluOp::SDiv, _) => self.b.ins().sdiv(a, b),
            _ => self.b.ins().srem(a, b),
        }
    }

    /// Division by a register, branch-free: the divisor is replaced by 1
    /// where the instruction would trap, and the RFC result selected after.
    fn divide_guarded(&mut self, ty: Type, op: AluOp, a: Value, b: Value) -> Value {
        let zero = self.iconst(ty, 0);
        let one = self.iconst(ty, 1);
        let is_zero = self.b.ins().icmp_imm_u(IntCC::Equal, b, 0);
        match op {
            AluOp::Div => {
                let d = self.b.ins().select(is_zero, one, b);
                let q = self.b.ins().udiv(a, d);
                self.b.ins().select(is_zero, zero, q)
            }
            AluOp::Mod => {
                let d = self.b.ins().select(is_zero, one, b);
                let r = self.b.ins().urem(a, d);
                self.b.ins().select(is_zero, a, r)
            }
            AluOp::SDiv => {
                // x / -1 is -x (wrapping MIN to MIN); x / 1 stands in for it.
                let minus_one = self.iconst(ty, -1);
                let is_m1 = self.b.ins().icmp(IntCC::Equal, b, minus_one);
                let bad = self.b.ins().bor(is_zero, is_m1);
                let d = self.b.ins().select(bad, one, b);
                let q = self.b.ins().sdiv(a, d);
                let neg = self.b.ins().ineg(a);
                let q = self.b.ins().select(is_m1, neg, q);
                self.b.ins().select(is_zero, zero, q)
            }
            _ => {
                // x % -1 is 0, which is also x % 1, so -1 is simply replaced.
                let minus_one = self.iconst(ty, -1);
                let is_m1 = self.b.ins().icmp(IntCC::Equal, b, minus_one);
                let bad = self.b.ins().bor(is_zero, is_m1);
                let d = self.b.ins().select(bad, one, b);
                let r = self.b.ins().srem(a, d);
                self.b.ins().select(is_zero, a, r)
            }
        }
    }

    /// `dst = -dst`.
    pub(super) fn neg(&mut self, width: Width, dst: Reg) {
        let ty = ty_of(width);
        let d = self.get(dst);
        let a = self.narrow(ty, d);
        let n = self.b.ins().ineg(a);
        let r = self.widen(ty, n);
        self.set(dst, r);
    }

    /// `dst = (s<bits>) src`, zero-extended from 32 bits for `W32`.
    pub(super) fn movsx(&mut self, width: Width, dst: Reg, src: Reg, bits: u8) {
        let ty = ty_of(width);
        let narrow = match bits {
            8 => I8,
            16 => I16,
            _ => I32,
        };
        let s = self.get(src);
        let low = self.b.ins().ireduce(narrow, s);
        let ext = self.b.ins().sextend(ty, low);
        let r = self.widen(ty, ext);
        self.set(dst, r);
    }

    /// Byte swaps. `to_le` on this little-endian machine only truncates.
    pub(super) fn swap(&mut self, order: SwapOrder, dst: Reg, bits: u8) {
        let ty = match bits {
            16 => I16,
            32 => I32,
            _ => I64,
        };
        let d = self.get(dst);
        let low = self.narrow(ty, d);
        let v = match order {
            SwapOrder::ToLe => low,
            SwapOrder::ToBe | SwapOrder::Swap => self.b.ins().bswap(low),
        };
        let r = self.widen(ty, v);
        self.set(dst, r);
    }

    /// The condition of a conditional jump, as an `i8` truth value.
    pub(super) fn condition(
        &mut self,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
    ) -> Value {
        let ty = ty_of(width);
        let d = self.get(dst);
        let a = self.narrow(ty, d);
        let (b, _) = self.operand(ty, src);
        let cc = match cond {
            JmpCond::Set => {
                let both = self.b.ins().band(a, b);
                return self.b.ins().icmp_imm_u(IntCC::NotEqual, both, 0);
            }
            JmpCond::Eq => IntCC::Equal,
            JmpCond::Ne => IntCC::NotEqual,
            JmpCond::Gt => IntCC::UnsignedGreaterThan,
            JmpCond::Ge => IntCC::UnsignedGreaterThanOrEqual,
            JmpCond::Lt => IntCC::UnsignedLessThan,
            JmpCond::Le => IntCC::UnsignedLessThanOrEqual,
            JmpCond::Sgt => IntCC::SignedGreaterThan,
            JmpCond::Sge => IntCC::SignedGreaterThanOrEqual,
            JmpCond::Slt => IntCC::SignedLessThan,
            JmpCond::Sle => IntCC::SignedLessThanOrEqual,
        };
        self.b.ins().icmp(cc, a, b)
    }
}

fn ty_of(width: Width) -> Type {
    match width {
        Width::W32 => I32,
        Width::W64 => I64,
    }
}
