//! Expressions: scalars into registers, aggregates into stack buffers,
//! conditions into branches.

use capscope_bytecode::abi::fields;
use capscope_bytecode::abi::helpers::{id as helper, stack_flags};
use capscope_bytecode::insn::{AluOp, JmpCond, Op, Operand, Reg, Size, Width};

use super::code::Label;
use super::func::{Buf, Fn, Val};
use crate::ast::{BinOp, UnOp};
use crate::check::ir::{TExpr, TKind};
use crate::check::types::{StackKind, Type, layout};

/// The access size for a storage size in bytes.
pub(super) fn size_of(bytes: u32) -> Size {
    match bytes {
        1 => Size::B,
        2 => Size::H,
        4 => Size::W,
        _ => Size::DW,
    }
}

fn negate(c: JmpCond) -> JmpCond {
    match c {
        JmpCond::Eq => JmpCond::Ne,
        JmpCond::Ne => JmpCond::Eq,
        JmpCond::Gt => JmpCond::Le,
        JmpCond::Le => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sge,
        JmpCond::Set => JmpCond::Set,
    }
}

/// The same comparison with its operands swapped.
fn mirror(c: JmpCond) -> JmpCond {
    match c {
        JmpCond::Gt => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Le,
        JmpCond::Le => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sge,
        c => c,
    }
}

fn cmp_cond(op: BinOp, signed: bool) -> JmpCond {
    match (op, signed) {
        (BinOp::Eq, _) => JmpCond::Eq,
        (BinOp::Ne, _) => JmpCond::Ne,
        (BinOp::Lt, false) => JmpCond::Lt,
        (BinOp::Le, false) => JmpCond::Le,
        (BinOp::Gt, false) => JmpCond::Gt,
        (BinOp::Ge, false) => JmpCond::Ge,
        (BinOp::Lt, true) => JmpCond::Slt,
        (BinOp::Le, true) => JmpCond::Sle,
        (BinOp::Gt, true) => JmpCond::Sgt,
        _ => JmpCond::Sge,
    }
}

impl Fn<'_> {
    /// Evaluate a scalar expression.
    pub fn scalar(&mut self, e: &TExpr) -> Val {
        let saved = self.span;
        self.span = e.span;
        let v = self.scalar_inner(e);
        self.span = saved;
        v
    }

    fn scalar_inner(&mut self, e: &TExpr) -> Val {
        match &e.kind {
            TKind::Const(v) => Val::Imm(*v),
            TKind::Field(name) => {
                let Some(f) = fields::find(self.point.point, name) else {
                    return Val::Imm(0);
                };
                let t = self.temp();
                let size = if f.ty.size() == 8 { Size::DW } else { Size::W };
                self.define(t, |s, r| s.load(size, r, Reg::R6, f.offset as i16));
                t
            }
            TKind::Var(id) => {
                if let Some(&c) = self.loop_consts.get(id) {
                    return Val::Imm(c);
                }
                let off = self.var_slot(*id);
                let t = self.temp();
                self.define(t, |s, r| s.load(Size::DW, r, Reg::FP, off));
                t
            }
            TKind::MapRead { map, key } => self.map_read_scalar(*map, key, &e.ty),
            TKind::Stack(kind) => {
                let t = self.temp();
                let flags = match kind {
                    StackKind::User => stack_flags::USER_STACK,
                    StackKind::Kernel => 0,
                };
                self.mov(Reg::R1, Reg::R6);
                let idx = self.maps.stacks.unwrap_or(0);
                self.map_ptr(Reg::R2, idx);
                self.mov_imm(Reg::R3, flags);
                self.call(helper::GET_STACKID);
                self.set(t, Reg::R0);
                t
            }
            TKind::Unary(op, x) => {
                let v = self.scalar(x);
                let t = self.in_temp(v);
                match op {
                    UnOp::Neg => self.update(t, |s, r| {
                        s.emit(Op::Neg {
                            width: Width::W64,
                            dst: r,
                        })
                    }),
                    UnOp::BitNot => self.update(t, |s, r| s.alu(AluOp::Xor, r, Operand::Imm(-1))),
                    UnOp::Not => self.bool_of(t, JmpCond::Eq, Operand::Imm(0)),
                }
                t
            }
            TKind::Binary(op, l, r) if op.is_comparison() => {
                let signed = Type::arith_signed(&l.ty, &r.ty);
                let lv = self.scalar(l);
                let t = self.in_temp(lv);
                let rv = self.scalar(r);
                let src = self.operand(rv, Reg::R2);
                self.bool_of(t, cmp_cond(*op, signed), src);
                self.free(rv);
                t
            }
            TKind::Binary(op, l, r) => {
                let signed = Type::arith_signed(&l.ty, &r.ty);
                let lv = self.scalar(l);
                let t = self.in_temp(lv);
                let rv = self.scalar(r);
                self.arith(*op, signed, t, rv);
                self.free(rv);
                t
            }
            TKind::Logical(..) | TKind::StrEq(..) => {
                let t = self.temp();
                let no = self.label();
                let end = self.label();
                self.branch(e, no, false);
                self.set_imm(t, 1);
                self.ja(end);
                self.bind(no);
                self.set_imm(t, 0);
                self.bind(end);
                t
            }
            TKind::Ternary(c, a, b) => {
                let t = self.temp();
                let no = self.label();
                let end = self.label();
                self.branch(c, no, false);
                let va = self.scalar(a);
                let ra = self.reg_of(va, Reg::R1);
                self.set(t, ra);
                self.free(va);
                self.ja(end);
                self.bind(no);
                let vb = self.scalar(b);
                let rb = self.reg_of(vb, Reg::R1);
                self.set(t, rb);
                self.free(vb);
                self.bind(end);
                t
            }
            TKind::TupleGet(base, i) => {
                let b = self.buf(base);
                let Type::Tuple(items) = &base.ty else {
                    return Val::Imm(0);
                };
                let (offs, _) = layout(items);
                let (Some(off), Some(ty)) = (offs.get(*i), items.get(*i)) else {
                    return Val::Imm(0);
                };
                let ty = ty.clone();
                let t = self.temp();
                let at = b.off + *off as i16;
                self.define(t, |s, r| s.load_typed(r, Reg::FP, at, &ty));
                t
            }
            TKind::Cast(ty, x) => {
                let v = self.scalar(x);
                let t = self.in_temp(v);
                let (bytes, signed) = (ty.bytes, ty.signed);
                self.update(t, |s, r| s.truncate(r, bytes, signed));
                t
            }
            // Aggregates never reach here (the checker types them apart).
            TKind::Str(_) | TKind::ProbeName | TKind::Comm | TKind::Tuple(_) => Val::Imm(0),
        }
    }

    /// Truncate (and sign-extend when `signed`) register `r` to `bytes`.
    pub(super) fn truncate(&mut self, r: Reg, bytes: u8, signed: bool) {
        if bytes >= 8 {
            return;
        }
        let shift = 64 - i32::from(bytes) * 8;
        if signed {
            self.alu(AluOp::Lsh, r, Operand::Imm(shift));
            self.alu(AluOp::Arsh, r, Operand::Imm(shift));
        } else if bytes == 4 {
            // A 32-bit move zero-extends.
            self.emit(Op::Alu {
                width: Width::W32,
                op: AluOp::Mov,
                dst: r,
                src: Operand::Reg(r),
            });
        } else {
            self.alu(
                AluOp::And,
                r,
                Operand::Imm(if bytes == 1 { 0xff } else { 0xffff }),
            );
        }
    }

    /// Load a value of type `ty` from `base + off` into `r`, widened to 64
    /// bits by its signedness.
    pub(super) fn load_typed(&mut self, r: Reg, base: Reg, off: i16, ty: &Type) {
        let bytes = ty.size().min(8);
        self.load(size_of(bytes), r, base, off);
        if let Type::Int(i) = ty
            && i.signed
            && bytes < 8
        {
            self.truncate(r, bytes as u8, true);
        }
    }

    /// `t = (t cond src) ? 1 : 0`
    fn bool_of(&mut self, t: Val, cond: JmpCond, src: Operand) {
        let yes = self.label();
        let end = self.label();
        let r = self.reg_of(t, Reg::R1);
        self.jmp(cond, r, src, yes);
        self.set_imm(t, 0);
        self.ja(end);
        self.bind(yes);
        self.set_imm(t, 1);
        self.bind(end);
    }

    /// `t op= rv`
    fn arith(&mut self, op: BinOp, signed: bool, t: Val, rv: Val) {
        let alu = match op {
            BinOp::Add => AluOp::Add,
            BinOp::Sub => AluOp::Sub,
            BinOp::Mul => AluOp::Mul,
            BinOp::Div if signed => AluOp::SDiv,
            BinOp::Div => AluOp::Div,
            BinOp::Mod if signed => AluOp::SMod,
            BinOp::Mod => AluOp::Mod,
            BinOp::Shl => AluOp::Lsh,
            BinOp::Shr if signed => AluOp::Arsh,
            BinOp::Shr => AluOp::Rsh,
            BinOp::BitAnd => AluOp::And,
            BinOp::BitOr => AluOp::Or,
            _ => AluOp::Xor,
        };
        // Division by a constant zero is defined (quotient 0, remainder
        // the dividend), but say so plainly instead of relying on it.
        if rv == Val::Imm(0) {
            match alu {
                AluOp::Div | AluOp::SDiv => return self.set_imm(t, 0),
                AluOp::Mod | AluOp::SMod => return,
                _ => {}
            }
        }
        let src = match (alu, rv) {
            // Shift amounts are masked to 6 bits by the machine; keep
            // immediates in range so no checker has to think about it.
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Val::Imm(x)) => Operand::Imm((x & 63) as i32),
            _ => self.operand(rv, Reg::R2),
        };
        self.update(t, |s, r| s.alu(alu, r, src));
    }

    /// Jump to `target` when `e`'s truth equals `when`; fall through otherwise.
    pub fn branch(&mut self, e: &TExpr, target: Label, when: bool) {
        let saved = self.span;
        self.span = e.span;
        match &e.kind {
            TKind::Const(v) => {
                if (*v != 0) == when {
                    self.ja(target);
                }
            }
            TKind::Logical(and, l, r) => {
                if *and != when {
                    // `a && b` false when either is; `a || b` true when either is.
                    self.branch(l, target, when);
                    self.branch(r, target, when);
                } else {
                    let skip = self.label();
                    self.branch(l, skip, !when);
                    self.branch(r, target, when);
                    self.bind(skip);
                }
            }
            TKind::Unary(UnOp::Not, x) => self.branch(x, target, !when),
            TKind::Binary(op, l, r) if op.is_comparison() => {
                let signed = Type::arith_signed(&l.ty, &r.ty);
                let mut cond = cmp_cond(*op, signed);
                if !when {
                    cond = negate(cond);
                }
                let lv = self.scalar(l);
                let rv = self.scalar(r);
                // A constant on the left: compare the other way round.
                let (lv, rv, cond) = match (lv, rv) {
                    (Val::Imm(_), rv) if !matches!(rv, Val::Imm(_)) => (rv, lv, mirror(cond)),
                    _ => (lv, rv, cond),
                };
                let src = self.operand(rv, Reg::R2);
                let d = self.reg_of(lv, Reg::R1);
                self.jmp(cond, d, src, target);
                self.free(lv);
                self.free(rv);
            }
            TKind::StrEq(eq, l, r) => {
                let (a, b, len) = self.str_pair(l, r);
                // Equal means every 8-byte word matches.
                let differ = self.label();
                for i in (0..len).step_by(8) {
                    self.load(Size::DW, Reg::R1, Reg::FP, a.off + i as i16);
                    self.load(Size::DW, Reg::R2, Reg::FP, b.off + i as i16);
                    self.jmp(JmpCond::Ne, Reg::R1, Operand::Reg(Reg::R2), differ);
                }
                // Here the strings are equal.
                if *eq == when {
                    self.ja(target);
                    self.bind(differ);
                } else {
                    let end = self.label();
                    self.ja(end);
                    self.bind(differ);
                    self.ja(target);
                    self.bind(end);
                }
            }
            _ => {
                let v = self.scalar(e);
                let d = self.reg_of(v, Reg::R1);
                let cond = if when { JmpCond::Ne } else { JmpCond::Eq };
                self.jmp(cond, d, Operand::Imm(0), target);
                self.free(v);
            }
        }
        self.span = saved;
    }

    /// Two strings in zero-padded buffers of one length (a multiple of 8).
    fn str_pair(&mut self, l: &TExpr, r: &TExpr) -> (Buf, Buf, u32) {
        let len = l.ty.size().max(r.ty.size()).next_multiple_of(8);
        let side = |s: &mut Self, e: &TExpr| {
            let b = s.buf(e);
            if e.ty.size().next_multiple_of(8) == len {
                return b;
            }
            let wide = Buf { off: s.alloc(len) };
            s.convert_copy(
                (Reg::FP, b.off),
                &e.ty,
                (Reg::FP, wide.off),
                &Type::Str(len as u16),
            );
            wide
        };
        let a = side(self, l);
        let b = side(self, r);
        (a, b, len)
    }

    /// Evaluate an aggregate (string, tuple) into a stack buffer whose
    /// bytes are all written: the type's bytes, then zero padding up to a
    /// multiple of 8.
    pub fn buf(&mut self, e: &TExpr) -> Buf {
        let saved = self.span;
        self.span = e.span;
        let b = self.buf_inner(e);
        self.span = saved;
        b
    }

    fn buf_inner(&mut self, e: &TExpr) -> Buf {
        let size = e.ty.size();
        match &e.kind {
            TKind::Str(bytes) => {
                let off = self.alloc(size);
                self.const_bytes(off, bytes, size);
                Buf { off }
            }
            TKind::ProbeName => {
                let off = self.alloc(size);
                let name = self.point.name.as_bytes().to_vec();
                self.const_bytes(off, &name, size);
                Buf { off }
            }
            TKind::Comm => {
                let off = self.alloc(size);
                self.fp_addr(Reg::R1, off);
                self.mov_imm(Reg::R2, u64::from(size));
                self.call(capscope_bytecode::abi::helpers::id::GET_CURRENT_COMM);
                Buf { off }
            }
            TKind::Var(id) => Buf {
                off: self.var_slot(*id),
            },
            TKind::MapRead { map, key } => self.map_read_buf(*map, key, &e.ty),
            TKind::Tuple(items) => {
                let Type::Tuple(types) = &e.ty else {
                    return Buf { off: self.alloc(8) };
                };
                let (offs, total) = layout(types);
                let off = self.alloc(total);
                self.zero(Reg::FP, off, total.next_multiple_of(8));
                for ((item, field_off), ty) in items.iter().zip(offs).zip(types) {
                    let at = off + field_off as i16;
                    self.store_value(item, (Reg::FP, at), ty);
                }
                Buf { off }
            }
            TKind::Ternary(c, a, b) => {
                let off = self.alloc(size);
                let no = self.label();
                let end = self.label();
                self.branch(c, no, false);
                let ba = self.buf(a);
                self.convert_copy((Reg::FP, ba.off), &a.ty, (Reg::FP, off), &e.ty);
                self.ja(end);
                self.bind(no);
                let bb = self.buf(b);
                self.convert_copy((Reg::FP, bb.off), &b.ty, (Reg::FP, off), &e.ty);
                self.bind(end);
                Buf { off }
            }
            TKind::TupleGet(base, i) => {
                let b = self.buf(base);
                let Type::Tuple(items) = &base.ty else {
                    return b;
                };
                let (offs, _) = layout(items);
                Buf {
                    off: b.off + offs.get(*i).copied().unwrap_or(0) as i16,
                }
            }
            _ => {
                let off = self.alloc(size);
                self.zero(Reg::FP, off, size.next_multiple_of(8));
                Buf { off }
            }
        }
    }

    /// Write `bytes`, zero-padded to a multiple of 8 covering `size`, at `fp + off`.
    fn const_bytes(&mut self, off: i16, bytes: &[u8], size: u32) {
        let total = size.next_multiple_of(8) as usize;
        for i in (0..total).step_by(8) {
            let mut word = [0u8; 8];
            for (j, w) in word.iter_mut().enumerate() {
                *w = bytes.get(i + j).copied().unwrap_or(0);
            }
            let v = u64::from_le_bytes(word);
            match super::func::imm32(v) {
                Some(imm) => self.store(Size::DW, Reg::FP, off + i as i16, Operand::Imm(imm)),
                None => {
                    self.mov_imm(Reg::R1, v);
                    self.store(Size::DW, Reg::FP, off + i as i16, Operand::Reg(Reg::R1));
                }
            }
        }
    }

    /// Evaluate `e` and store it as type `ty` at `dst`.
    pub(super) fn store_value(&mut self, e: &TExpr, dst: (Reg, i16), ty: &Type) {
        if ty.is_aggregate() {
            let b = self.buf(e);
            self.convert_copy((Reg::FP, b.off), &e.ty, dst, ty);
        } else {
            let v = self.scalar(e);
            let size = size_of(ty.size());
            match v {
                Val::Imm(x) => {
                    let imm = match size {
                        Size::DW => super::func::imm32(x),
                        _ => Some(x as u32 as i32),
                    };
                    match imm {
                        Some(i) => self.store(size, dst.0, dst.1, Operand::Imm(i)),
                        None => {
                            self.mov_imm(Reg::R1, x);
                            self.store(size, dst.0, dst.1, Operand::Reg(Reg::R1));
                        }
                    }
                }
                v => {
                    let r = self.reg_of(v, Reg::R1);
                    self.store(size, dst.0, dst.1, Operand::Reg(r));
                    self.free(v);
                }
            }
        }
    }

    /// Copy a value of type `from` at `src` into a place of type `to` at
    /// `dst`, converting as unification allows: integers widen, strings are
    /// zero-padded, tuples convert element by element. Uses only `r1`.
    pub(super) fn convert_copy(
        &mut self,
        src: (Reg, i16),
        from: &Type,
        dst: (Reg, i16),
        to: &Type,
    ) {
        match (from, to) {
            (Type::Str(n), Type::Str(m)) => {
                let n = u32::from(*n).min(u32::from(*m));
                let mut done = 0u32;
                while done < n {
                    let size = match n - done {
                        8.. => Size::DW,
                        4..=7 => Size::W,
                        2 | 3 => Size::H,
                        _ => Size::B,
                    };
                    self.load(size, Reg::R1, src.0, src.1 + done as i16);
                    self.store(size, dst.0, dst.1 + done as i16, Operand::Reg(Reg::R1));
                    done += size.bytes() as u32;
                }
                let m = u32::from(*m);
                if m > n {
                    self.zero(dst.0, dst.1 + n as i16, m - n);
                }
            }
            (Type::Tuple(a), Type::Tuple(b)) if a.len() == b.len() => {
                let (oa, _) = layout(a);
                let (ob, total) = layout(b);
                self.zero(dst.0, dst.1, total);
                for i in 0..a.len() {
                    self.convert_copy(
                        (src.0, src.1 + oa[i] as i16),
                        &a[i],
                        (dst.0, dst.1 + ob[i] as i16),
                        &b[i],
                    );
                }
            }
            (f, t) if !f.is_aggregate() && !t.is_aggregate() => {
                self.load_typed(Reg::R1, src.0, src.1, f);
                self.store(size_of(t.size()), dst.0, dst.1, Operand::Reg(Reg::R1));
            }
            (_, t) => self.zero(dst.0, dst.1, t.size()),
        }
    }
}
