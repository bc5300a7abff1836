//! One program: registers, the stack frame, emission helpers and
//! statements.
//!
//! Register use is fixed and simple, which keeps the code easy for the
//! verifier to follow:
//! - `r6` holds the context pointer for the whole program (helpers clobber
//!   `r1`-`r5`);
//! - `r7`-`r9` are expression temporaries, which survive helper calls; when
//!   an expression needs more, temporaries spill to 8-byte stack slots;
//! - `r0`-`r5` are scratch between helper calls: `r1` and `r2` for
//!   operands, `r1`-`r5` for helper arguments.
//!
//! The stack frame holds the `$variables` (zeroed at entry, so every byte
//! read has been written on every path) and, above them, scratch buffers a
//! statement needs (keys, values, records, strings). Scratch space is a
//! bump allocator released after each statement.

use std::collections::HashMap;

use capscope_bytecode::insn::{
    AluOp, JmpCond, LoadImmKind, Op, Operand, Reg, STACK_SIZE, Size, Width,
};

use super::MapTable;
use super::code::{Code, Label, MInsn};
use crate::ast::Span;
use crate::check::ir::{CProbe, Checked, Point, TStmt, TStmtKind, VarId};
use crate::check::types::Type;
use crate::diag::{Code as DiagCode, Diagnostic};

/// Most instruction slots in one program: conditional jumps have 16-bit
/// offsets, so longer programs could not be encoded.
pub const MAX_SLOTS: usize = 32_000;

/// A scalar value during expression lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Val {
    /// A constant.
    Imm(u64),
    /// A temporary register (`r7`-`r9`), owned until freed.
    Reg(Reg),
    /// A spilled temporary: 8 bytes at `fp + off`.
    Slot(i16),
}

/// An aggregate value (string, tuple) in a stack buffer at `fp + off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Buf {
    pub off: i16,
}

pub(super) struct Fn<'a> {
    pub ck: &'a Checked,
    pub probe: &'a CProbe,
    pub point: &'a Point,
    pub maps: &'a MapTable,
    pub code: Code,
    pub span: Span,
    /// Bytes of stack in use below `fp`.
    frame_top: u32,
    frame_max: u32,
    free_regs: Vec<Reg>,
    vars: Vec<i16>,
    pub loop_consts: HashMap<VarId, u64>,
    pub exit: Label,
    pub errors: Vec<Diagnostic>,
}

const TEMPS: [Reg; 3] = [Reg::R9, Reg::R8, Reg::R7];

impl<'a> Fn<'a> {
    pub fn new(ck: &'a Checked, probe: &'a CProbe, point: &'a Point, maps: &'a MapTable) -> Fn<'a> {
        let mut code = Code::default();
        let exit = code.label();
        Fn {
            ck,
            probe,
            point,
            maps,
            code,
            span: probe.span,
            frame_top: 0,
            frame_max: 0,
            free_regs: TEMPS.to_vec(),
            vars: Vec::new(),
            loop_consts: HashMap::new(),
            exit,
            errors: Vec::new(),
        }
    }

    // ----- emission -----

    pub fn emit(&mut self, op: Op) {
        self.code.insns.push((MInsn::Op(op), self.span));
    }

    pub fn jmp(&mut self, cond: JmpCond, dst: Reg, src: Operand, target: Label) {
        self.code.insns.push((
            MInsn::Jmp {
                cond,
                dst,
                src,
                target,
            },
            self.span,
        ));
    }

    pub fn ja(&mut self, target: Label) {
        self.code.insns.push((MInsn::Ja(target), self.span));
    }

    pub fn bind(&mut self, l: Label) {
        self.code.insns.push((MInsn::Bind(l), self.span));
    }

    pub fn label(&mut self) -> Label {
        self.code.label()
    }

    pub fn alu(&mut self, op: AluOp, dst: Reg, src: Operand) {
        self.emit(Op::Alu {
            width: Width::W64,
            op,
            dst,
            src,
        });
    }

    pub fn mov(&mut self, dst: Reg, src: Reg) {
        if dst != src {
            self.alu(AluOp::Mov, dst, Operand::Reg(src));
        }
    }

    /// `dst = v`, with `lddw` when it does not fit a sign-extended imm32.
    pub fn mov_imm(&mut self, dst: Reg, v: u64) {
        match imm32(v) {
            Some(i) => self.alu(AluOp::Mov, dst, Operand::Imm(i)),
            None => self.emit(Op::LoadImm64 {
                kind: LoadImmKind::Imm64,
                dst,
                imm_lo: v as u32 as i32,
                imm_hi: (v >> 32) as u32 as i32,
            }),
        }
    }

    pub fn load(&mut self, size: Size, dst: Reg, base: Reg, off: i16) {
        self.emit(Op::Load {
            size,
            signed: false,
            dst,
            src: base,
            off,
        });
    }

    pub fn store(&mut self, size: Size, base: Reg, off: i16, src: Operand) {
        self.emit(Op::Store {
            size,
            dst: base,
            off,
            src,
        });
    }

    /// `dst = fp + off`
    pub fn fp_addr(&mut self, dst: Reg, off: i16) {
        self.mov(dst, Reg::FP);
        self.alu(AluOp::Add, dst, Operand::Imm(i32::from(off)));
    }

    pub fn map_ptr(&mut self, dst: Reg, idx: u32) {
        self.emit(Op::LoadImm64 {
            kind: LoadImmKind::Map,
            dst,
            imm_lo: idx as i32,
            imm_hi: 0,
        });
    }

    pub fn call(&mut self, id: capscope_bytecode::insn::HelperId) {
        self.emit(Op::Call(capscope_bytecode::insn::CallTarget::Helper(id)));
    }

    // ----- frame -----

    /// `size` bytes of stack (rounded up to 8), 8-aligned; returns the
    /// offset from `fp`.
    pub fn alloc(&mut self, size: u32) -> i16 {
        let size = size.max(1).next_multiple_of(8);
        self.frame_top = self.frame_top.saturating_add(size);
        self.frame_max = self.frame_max.max(self.frame_top);
        if self.frame_top as usize > STACK_SIZE {
            // Reported once at the end; keep emitting valid offsets.
            return -8;
        }
        -(self.frame_top as i16)
    }

    /// Zero `len` bytes at `base + off` (8-aligned starts use 8-byte stores).
    pub fn zero(&mut self, base: Reg, off: i16, len: u32) {
        let mut done = 0u32;
        while done < len {
            let left = len - done;
            let size = match left {
                8.. => Size::DW,
                4..=7 => Size::W,
                2 | 3 => Size::H,
                _ => Size::B,
            };
            self.store(size, base, off + done as i16, Operand::Imm(0));
            done += size.bytes() as u32;
        }
    }

    // ----- temporaries -----

    pub fn temp(&mut self) -> Val {
        match self.free_regs.pop() {
            Some(r) => Val::Reg(r),
            None => Val::Slot(self.alloc(8)),
        }
    }

    pub fn free(&mut self, v: Val) {
        if let Val::Reg(r) = v
            && !self.free_regs.contains(&r)
        {
            self.free_regs.push(r);
        }
    }

    /// A temporary holding `v` (constants get one).
    pub fn in_temp(&mut self, v: Val) -> Val {
        match v {
            Val::Imm(x) => {
                let t = self.temp();
                self.set_imm(t, x);
                t
            }
            v => v,
        }
    }

    /// `v`'s value in a register: its own, or loaded into `scratch`.
    pub fn reg_of(&mut self, v: Val, scratch: Reg) -> Reg {
        match v {
            Val::Reg(r) => r,
            Val::Slot(off) => {
                self.load(Size::DW, scratch, Reg::FP, off);
                scratch
            }
            Val::Imm(x) => {
                self.mov_imm(scratch, x);
                scratch
            }
        }
    }

    /// `v` as a second operand: an immediate if it fits, else in `scratch`.
    pub fn operand(&mut self, v: Val, scratch: Reg) -> Operand {
        match v {
            Val::Imm(x) if imm32(x).is_some() => Operand::Imm(imm32(x).unwrap_or(0)),
            v => Operand::Reg(self.reg_of(v, scratch)),
        }
    }

    /// Temporary `t = r`.
    pub fn set(&mut self, t: Val, r: Reg) {
        match t {
            Val::Reg(d) => self.mov(d, r),
            Val::Slot(off) => self.store(Size::DW, Reg::FP, off, Operand::Reg(r)),
            Val::Imm(_) => {}
        }
    }

    /// Temporary `t = x`.
    pub fn set_imm(&mut self, t: Val, x: u64) {
        match t {
            Val::Reg(d) => self.mov_imm(d, x),
            Val::Slot(off) => match imm32(x) {
                Some(i) => self.store(Size::DW, Reg::FP, off, Operand::Imm(i)),
                None => {
                    self.mov_imm(Reg::R1, x);
                    self.store(Size::DW, Reg::FP, off, Operand::Reg(Reg::R1));
                }
            },
            Val::Imm(_) => {}
        }
    }

    /// Give a fresh temporary `t` a value computed by `f` into a register
    /// (`r1` for a spilled one, stored afterwards; its old value is not read).
    pub fn define(&mut self, t: Val, f: impl FnOnce(&mut Self, Reg)) {
        let r = match t {
            Val::Reg(r) => r,
            _ => Reg::R1,
        };
        f(self, r);
        if let Val::Slot(off) = t {
            self.store(Size::DW, Reg::FP, off, Operand::Reg(r));
        }
    }

    /// Apply `f` to temporary `t` in a register (`r1` for a spilled one,
    /// written back afterwards).
    pub fn update(&mut self, t: Val, f: impl FnOnce(&mut Self, Reg)) {
        let r = self.reg_of(t, Reg::R1);
        f(self, r);
        if let Val::Slot(off) = t {
            self.store(Size::DW, Reg::FP, off, Operand::Reg(r));
        }
    }

    // ----- variables -----

    pub fn var_slot(&self, id: VarId) -> i16 {
        self.vars.get(id.0 as usize).copied().unwrap_or(-8)
    }

    // ----- the program -----

    /// Lower the whole program for this point.
    pub fn program(&mut self) {
        // Prologue: keep the context, give every variable zeroed storage.
        self.mov(Reg::R6, Reg::R1);
        for v in &self.probe.vars {
            let size = if v.loop_var { 0 } else { v.ty.size().max(8) };
            let off = if size == 0 { -8 } else { self.alloc(size) };
            self.vars.push(off);
        }
        let vars_top = self.frame_top;
        if vars_top > 0 {
            self.zero(Reg::FP, -(vars_top as i16), vars_top);
        }
        // The filter suffix, then the predicate: early exits.
        if let Some(f) = &self.point.filter
            && let Some(field) = capscope_bytecode::abi::fields::find(self.point.point, f.field)
        {
            let size = if field.ty.size() == 8 {
                Size::DW
            } else {
                Size::W
            };
            self.load(size, Reg::R1, Reg::R6, field.offset as i16);
            let ok = self.label();
            let values = f.values.clone();
            for v in &values[..values.len().saturating_sub(1)] {
                let src = self.operand(Val::Imm(*v), Reg::R2);
                self.jmp(JmpCond::Eq, Reg::R1, src, ok);
            }
            if let Some(&last) = values.last() {
                let src = self.operand(Val::Imm(last), Reg::R2);
                let exit = self.exit;
                self.jmp(JmpCond::Ne, Reg::R1, src, exit);
            }
            self.bind(ok);
        }
        let mut runs = true;
        if let Some(p) = &self.probe.predicate {
            self.span = p.span;
            match p.constant() {
                Some(0) => runs = false,
                Some(_) => {}
                None => {
                    let exit = self.exit;
                    self.branch(p, exit, false);
                    self.free_regs = TEMPS.to_vec();
                    self.frame_top = vars_top;
                }
            }
        }
        if runs {
            let body = &self.probe.body;
            self.stmts(body, vars_top);
        }
        self.span = self.probe.span;
        let exit = self.exit;
        self.bind(exit);
        self.mov_imm(Reg::R0, 0);
        self.emit(Op::Exit);
        if self.frame_max as usize > STACK_SIZE {
            let d = Diagnostic::new(
                DiagCode::StackExhausted,
                self.probe.span,
                format!("this probe needs {} bytes of stack", self.frame_max),
            )
            .label(format!("the eBPF stack has {STACK_SIZE} bytes"))
            .help("use fewer or shorter strings, tuples and variables in one probe");
            self.errors.push(d);
        }
    }

    fn stmts(&mut self, stmts: &[TStmt], base: u32) {
        for s in stmts {
            if self.code.slots() > MAX_SLOTS {
                return;
            }
            self.span = s.span;
            self.stmt(s);
            // Nothing outlives a statement but variables.
            self.free_regs = TEMPS.to_vec();
            self.frame_top = base;
        }
    }

    fn stmt(&mut self, s: &TStmt) {
        let base = self.frame_top;
        match &s.kind {
            TStmtKind::SetVar(id, value) => {
                let off = self.var_slot(*id);
                let ty = self
                    .probe
                    .vars
                    .get(id.0 as usize)
                    .map(|v| v.ty.clone())
                    .unwrap_or(Type::Error);
                if ty.is_aggregate() {
                    let b = self.buf(value);
                    self.convert_copy((Reg::FP, b.off), &value.ty, (Reg::FP, off), &ty);
                } else {
                    let v = self.scalar(value);
                    let r = self.reg_of(v, Reg::R1);
                    self.store(Size::DW, Reg::FP, off, Operand::Reg(r));
                }
            }
            TStmtKind::MapStore { map, key, value } => self.map_store(*map, key, value),
            TStmtKind::MapAgg { map, key, agg, arg } => self.map_agg(*map, key, *agg, arg.as_ref()),
            TStmtKind::MapDelete { map, key } => self.map_delete(*map, key),
            TStmtKind::MapAction(action, map) => self.map_action(*action, *map),
            TStmtKind::Printf { format, args } => self.printf(*format, args),
            TStmtKind::Exit => {
                self.record(capscope_bytecode::object::record::KIND_EXIT, 0);
                let exit = self.exit;
                self.ja(exit);
            }
            TStmtKind::If(cond, then, otherwise) => {
                let else_ = self.label();
                self.branch(cond, else_, false);
                self.free_regs = TEMPS.to_vec();
                self.frame_top = base;
                self.stmts(then, base);
                if otherwise.is_empty() {
                    self.bind(else_);
                } else {
                    let end = self.label();
                    self.ja(end);
                    self.bind(else_);
                    self.stmts(otherwise, base);
                    self.bind(end);
                }
            }
            TStmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let mut i = *start;
                while i < *end {
                    self.loop_consts.insert(*var, i as u64);
                    self.stmts(body, base);
                    i += 1;
                }
                self.loop_consts.remove(var);
            }
        }
    }
}

/// `v` as a sign-extended 32-bit immediate, if it is one.
pub fn imm32(v: u64) -> Option<i32> {
    i32::try_from(v as i64).ok()
}
