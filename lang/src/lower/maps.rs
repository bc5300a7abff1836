//! Map operations and ring-buffer records.
//!
//! Every map access builds its key in a fully initialized stack buffer,
//! calls `map_lookup_elem`, and null-checks the result before touching the
//! value, always at constant offsets inside the value. Aggregations update
//! in place on a hit (atomic adds; per-CPU maps make min/max plain
//! read-compare-write race-free) and insert an initial value on a miss.
//! Indexed aggregations ([`Storage::Indexed`]) cannot miss: their key is a
//! `u32` bucket index (0 without buckets) that is always in range, so they
//! only update in place, and their null check is there for the verifier
//! (a JIT that knows the index removes it).

use capscope_bytecode::abi::helpers::{id as helper, update_flags};
use capscope_bytecode::insn::{AtomicOp, JmpCond, Operand, Reg, Size};
use capscope_bytecode::object::record;

use super::expr::size_of;
use super::func::{Fn, Val};
use super::{Storage, agg_value_size};
use crate::check::ir::{MapAction, MapId, TExpr};
use crate::check::types::{AggKind, Type, ValueKind, layout};

/// One evaluated key field.
enum Part {
    Scalar(Val),
    Buf(i16, Type),
}

impl Fn<'_> {
    fn storage(&self, map: MapId) -> Storage {
        self.maps
            .storage
            .get(map.0 as usize)
            .copied()
            .unwrap_or(Storage::Hash)
    }

    fn value_type(&self, map: MapId) -> Type {
        match self.ck.maps.get(map.0 as usize).map(|m| &m.value) {
            Some(ValueKind::Plain(t)) => t.clone(),
            _ => Type::Int(crate::check::types::IntTy::U64),
        }
    }

    /// The key's field types as stored (with the trailing bucket of
    /// `hist`/`lhist` maps).
    pub(super) fn key_types(&self, map: MapId) -> Vec<Type> {
        let Some(m) = self.ck.maps.get(map.0 as usize) else {
            return Vec::new();
        };
        let mut k = m.key.clone();
        if let ValueKind::Agg(a) = m.value
            && a.bucketed()
        {
            k.push(Type::Int(crate::check::types::IntTy::U64));
        }
        k
    }

    /// Build the key of `map` on the stack; `bucket` is the value of the
    /// trailing bucket field of histograms. Returns its offset from `fp`.
    fn key(&mut self, map: MapId, key: &[TExpr], bucket: Option<Val>) -> i16 {
        let types = self.key_types(map);
        if types.is_empty() {
            let off = self.alloc(8);
            self.store(Size::DW, Reg::FP, off, Operand::Imm(0));
            return off;
        }
        // Evaluate first: evaluation may call helpers and use scratch space.
        let mut parts: Vec<Part> = Vec::new();
        for k in key {
            if k.ty.is_aggregate() {
                let b = self.buf(k);
                parts.push(Part::Buf(b.off, k.ty.clone()));
            } else {
                parts.push(Part::Scalar(self.scalar(k)));
            }
        }
        if let Some(b) = bucket {
            parts.push(Part::Scalar(b));
        }
        let (offs, size) = layout(&types);
        let off = self.alloc(size);
        let covered: u32 = types.iter().map(Type::size).sum();
        let all_scalar = types.iter().all(|t| !t.is_aggregate());
        if covered != size || !all_scalar {
            self.zero(Reg::FP, off, size);
        }
        for ((part, field_off), ty) in parts.into_iter().zip(offs).zip(&types) {
            let at = off + field_off as i16;
            match part {
                Part::Scalar(v) => {
                    let size = size_of(ty.size());
                    match v {
                        Val::Imm(x) if size != Size::DW || super::func::imm32(x).is_some() => {
                            let imm = if size == Size::DW {
                                super::func::imm32(x).unwrap_or(0)
                            } else {
                                x as u32 as i32
                            };
                            self.store(size, Reg::FP, at, Operand::Imm(imm));
                        }
                        v => {
                            let r = self.reg_of(v, Reg::R1);
                            self.store(size, Reg::FP, at, Operand::Reg(r));
                            self.free(v);
                        }
                    }
                }
                Part::Buf(src, from) => self.convert_copy((Reg::FP, src), &from, (Reg::FP, at), ty),
            }
        }
        off
    }

    /// `r0 = map_lookup_elem(map, fp + key)`
    fn lookup(&mut self, map: MapId, key: i16) {
        self.map_ptr(Reg::R1, map.0);
        self.fp_addr(Reg::R2, key);
        self.call(helper::MAP_LOOKUP_ELEM);
    }

    /// `map_update_elem(map, fp + key, fp + value, ANY)`
    fn update_elem(&mut self, map: MapId, key: i16, value: i16) {
        self.map_ptr(Reg::R1, map.0);
        self.fp_addr(Reg::R2, key);
        self.fp_addr(Reg::R3, value);
        self.mov_imm(Reg::R4, update_flags::ANY);
        self.call(helper::MAP_UPDATE_ELEM);
    }

    /// A scalar map element; missing keys read as 0.
    pub(super) fn map_read_scalar(&mut self, map: MapId, key: &[TExpr], ty: &Type) -> Val {
        let t = self.temp();
        let k = self.key(map, key, None);
        self.lookup(map, k);
        self.set_imm(t, 0);
        let end = self.label();
        self.jmp(JmpCond::Eq, Reg::R0, Operand::Imm(0), end);
        let stored = self.value_type(map);
        self.define(t, |s, r| s.load_typed(r, Reg::R0, 0, &stored));
        self.bind(end);
        let _ = ty;
        t
    }

    /// An aggregate map element, copied to the stack; missing keys read as
    /// zeroes.
    pub(super) fn map_read_buf(
        &mut self,
        map: MapId,
        key: &[TExpr],
        ty: &Type,
    ) -> super::func::Buf {
        let size = ty.size();
        let k = self.key(map, key, None);
        let off = self.alloc(size);
        self.lookup(map, k);
        let miss = self.label();
        let end = self.label();
        self.jmp(JmpCond::Eq, Reg::R0, Operand::Imm(0), miss);
        let stored = self.value_type(map);
        self.convert_copy((Reg::R0, 0), &stored, (Reg::FP, off), ty);
        self.ja(end);
        self.bind(miss);
        self.zero(Reg::FP, off, size.next_multiple_of(8));
        self.bind(end);
        super::func::Buf { off }
    }

    /// `@m[key] = value`
    pub(super) fn map_store(&mut self, map: MapId, key: &[TExpr], value: &TExpr) {
        let ty = self.value_type(map);
        let voff = self.alloc(ty.size());
        if ty.is_aggregate() {
            let b = self.buf(value);
            self.convert_copy((Reg::FP, b.off), &value.ty, (Reg::FP, voff), &ty);
        } else {
            self.store_value(value, (Reg::FP, voff), &ty);
        }
        let k = self.key(map, key, None);
        self.update_elem(map, k, voff);
    }

    /// `delete(@m[key])`
    pub(super) fn map_delete(&mut self, map: MapId, key: &[TExpr]) {
        let k = self.key(map, key, None);
        self.map_ptr(Reg::R1, map.0);
        self.fp_addr(Reg::R2, k);
        self.call(helper::MAP_DELETE_ELEM);
    }

    /// `@m[key] = agg(arg)`
    pub(super) fn map_agg(&mut self, map: MapId, key: &[TExpr], agg: AggKind, arg: Option<&TExpr>) {
        let x = arg.map(|a| {
            let v = self.scalar(a);
            self.in_temp(v)
        });
        let bucket = match (agg, x) {
            (AggKind::Hist, Some(v)) => Some(self.log2_bucket(v)),
            (AggKind::Lhist { min, max, step }, Some(v)) => {
                Some(self.linear_bucket(v, min, max, step))
            }
            _ => None,
        };
        let storage = self.storage(map);
        if storage != Storage::Hash {
            // An indexed map: the bucket (or 0) is the u32 index, in range
            // by construction, so the lookup always hits.
            let k = self.alloc(8);
            match bucket {
                Some(b) => {
                    let r = self.reg_of(b, Reg::R1);
                    self.store(Size::W, Reg::FP, k, Operand::Reg(r));
                }
                None => self.store(Size::W, Reg::FP, k, Operand::Imm(0)),
            }
            self.lookup(map, k);
            let done = self.label();
            self.jmp(JmpCond::Eq, Reg::R0, Operand::Imm(0), done);
            self.agg_hit(agg, x, done);
            if agg_value_size(agg, storage) > agg.value_size() {
                // `sum`'s seen word (see `Storage::Indexed`).
                self.store(Size::DW, Reg::R0, 8, Operand::Imm(1));
            }
            self.bind(done);
            return;
        }
        let k = self.key(map, key, bucket);
        self.lookup(map, k);
        let miss = self.label();
        let done = self.label();
        self.jmp(JmpCond::Eq, Reg::R0, Operand::Imm(0), miss);
        self.agg_hit(agg, x, done);
        self.ja(done);
        // Miss: insert the first value.
        self.bind(miss);
        let size = agg.value_size();
        let v = self.alloc(size);
        match agg {
            AggKind::Count | AggKind::Hist | AggKind::Lhist { .. } => {
                self.store(Size::DW, Reg::FP, v, Operand::Imm(1));
            }
            AggKind::Sum => {
                let r = self.reg_of(x.unwrap_or(Val::Imm(0)), Reg::R1);
                self.store(Size::DW, Reg::FP, v, Operand::Reg(r));
            }
            AggKind::Min | AggKind::Max | AggKind::Avg | AggKind::Stats => {
                let r = self.reg_of(x.unwrap_or(Val::Imm(0)), Reg::R1);
                self.store(Size::DW, Reg::FP, v, Operand::Reg(r));
                self.store(Size::DW, Reg::FP, v + 8, Operand::Imm(1));
            }
        }
        self.update_elem(map, k, v);
        self.bind(done);
    }

    /// Update the value at `r0` with `x`, in place (this CPU's copy); `min`
    /// and `max` jump to `done` when the value stays.
    fn agg_hit(&mut self, agg: AggKind, x: Option<Val>, done: super::code::Label) {
        match agg {
            AggKind::Count | AggKind::Hist | AggKind::Lhist { .. } => {
                self.mov_imm(Reg::R1, 1);
                self.atomic_add(0, Reg::R1);
            }
            AggKind::Sum => {
                let r = self.reg_of(x.unwrap_or(Val::Imm(0)), Reg::R1);
                self.atomic_add(0, r);
            }
            AggKind::Avg | AggKind::Stats => {
                let r = self.reg_of(x.unwrap_or(Val::Imm(0)), Reg::R1);
                self.atomic_add(0, r);
                self.mov_imm(Reg::R1, 1);
                self.atomic_add(8, Reg::R1);
            }
            AggKind::Min | AggKind::Max => {
                // {value: i64, seen: u64}; a CPU's copy that saw nothing
                // takes the value unconditionally.
                let store = self.label();
                let r = self.reg_of(x.unwrap_or(Val::Imm(0)), Reg::R2);
                self.load(Size::DW, Reg::R1, Reg::R0, 8);
                self.jmp(JmpCond::Eq, Reg::R1, Operand::Imm(0), store);
                self.load(Size::DW, Reg::R1, Reg::R0, 0);
                let keep = if agg == AggKind::Min {
                    JmpCond::Sge
                } else {
                    JmpCond::Sle
                };
                self.jmp(keep, r, Operand::Reg(Reg::R1), done);
                self.bind(store);
                self.store(Size::DW, Reg::R0, 0, Operand::Reg(r));
                self.store(Size::DW, Reg::R0, 8, Operand::Imm(1));
            }
        }
    }

    fn atomic_add(&mut self, off: i16, src: Reg) {
        self.emit(capscope_bytecode::insn::Op::Atomic {
            size: Size::DW,
            op: AtomicOp::Add { fetch: false },
            dst: Reg::R0,
            off,
            src,
        });
    }

    /// bpftrace's power-of-two bucket: 0 for negative values, 1 for 0, and
    /// `k + 2` for `2^k <= x < 2^(k+1)`. Computed branch-light with a binary
    /// search over the shifts 32, 16, 8, 4, 2, 1.
    fn log2_bucket(&mut self, x: Val) -> Val {
        let b = self.temp();
        let done = self.label();
        let r = self.reg_of(x, Reg::R2);
        self.mov(Reg::R2, r);
        self.mov_imm(Reg::R3, 0);
        self.jmp(JmpCond::Slt, Reg::R2, Operand::Imm(0), done);
        self.mov_imm(Reg::R3, 1);
        self.jmp(JmpCond::Eq, Reg::R2, Operand::Imm(0), done);
        self.mov_imm(Reg::R3, 2);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.label();
            self.mov(Reg::R1, Reg::R2);
            self.alu(
                capscope_bytecode::insn::AluOp::Rsh,
                Reg::R1,
                Operand::Imm(shift),
            );
            self.jmp(JmpCond::Eq, Reg::R1, Operand::Imm(0), skip);
            self.mov(Reg::R2, Reg::R1);
            self.alu(
                capscope_bytecode::insn::AluOp::Add,
                Reg::R3,
                Operand::Imm(shift),
            );
            self.bind(skip);
        }
        self.bind(done);
        self.set(b, Reg::R3);
        b
    }

    /// `lhist` bucket: 0 below `min`, `1 + (x - min) / step` inside, and
    /// `n + 1` at or above `max`, where `n = ceil((max - min) / step)`.
    fn linear_bucket(&mut self, x: Val, min: i64, max: i64, step: u64) -> Val {
        let n = (max as i128 - min as i128 + step as i128 - 1) / step as i128;
        let b = self.temp();
        let done = self.label();
        let r = self.reg_of(x, Reg::R2);
        self.mov(Reg::R2, r);
        self.mov_imm(Reg::R3, 0);
        let lo = self.operand(Val::Imm(min as u64), Reg::R4);
        self.jmp(JmpCond::Slt, Reg::R2, lo, done);
        self.mov_imm(Reg::R3, (n + 1) as u64);
        let hi = self.operand(Val::Imm(max as u64), Reg::R4);
        self.jmp(JmpCond::Sge, Reg::R2, hi, done);
        self.mov(Reg::R3, Reg::R2);
        let lo = self.operand(Val::Imm(min as u64), Reg::R4);
        self.alu(capscope_bytecode::insn::AluOp::Sub, Reg::R3, lo);
        let st = self.operand(Val::Imm(step), Reg::R4);
        self.alu(capscope_bytecode::insn::AluOp::Div, Reg::R3, st);
        self.alu(
            capscope_bytecode::insn::AluOp::Add,
            Reg::R3,
            Operand::Imm(1),
        );
        self.bind(done);
        self.set(b, Reg::R3);
        b
    }

    /// Send an 8-byte map-action record.
    pub(super) fn record(&mut self, kind: u32, id: u32) {
        let off = self.alloc(8);
        self.store(Size::W, Reg::FP, off, Operand::Imm(kind as i32));
        self.store(Size::W, Reg::FP, off + 4, Operand::Imm(id as i32));
        self.ringbuf_output(off, 8);
    }

    fn ringbuf_output(&mut self, off: i16, size: u32) {
        let rb = self.maps.ringbuf.unwrap_or(0);
        self.map_ptr(Reg::R1, rb);
        self.fp_addr(Reg::R2, off);
        self.mov_imm(Reg::R3, u64::from(size));
        self.mov_imm(Reg::R4, 0);
        self.call(helper::RINGBUF_OUTPUT);
    }

    /// `print(@m)` and friends: a record the host acts on, in order.
    pub(super) fn map_action(&mut self, action: MapAction, map: MapId) {
        let kind = match action {
            MapAction::Print => record::KIND_PRINT_MAP,
            MapAction::Clear => record::KIND_CLEAR_MAP,
            MapAction::Zero => record::KIND_ZERO_MAP,
        };
        self.record(kind, map.0);
    }

    /// `printf`: header, then each argument as its format entry says
    /// (integers as 8 bytes, strings NUL-padded to a multiple of 8).
    pub(super) fn printf(&mut self, format: u32, args: &[TExpr]) {
        let Some(spec) = self.ck.formats.get(format as usize) else {
            return;
        };
        let sizes: Vec<u32> = spec.args.iter().map(|a| a.size).collect();
        // Evaluate the arguments first: they may call helpers.
        let mut parts = Vec::new();
        for a in args {
            if a.ty.is_aggregate() {
                let b = self.buf(a);
                parts.push(Part::Buf(b.off, a.ty.clone()));
            } else {
                let v = self.scalar(a);
                parts.push(Part::Scalar(v));
            }
        }
        let total = 8 + sizes.iter().sum::<u32>();
        let off = self.alloc(total);
        self.store(
            Size::W,
            Reg::FP,
            off,
            Operand::Imm(record::KIND_PRINTF as i32),
        );
        self.store(Size::W, Reg::FP, off + 4, Operand::Imm(format as i32));
        let mut at = off + 8;
        for (part, size) in parts.into_iter().zip(sizes) {
            match part {
                Part::Scalar(v) => {
                    let r = self.reg_of(v, Reg::R1);
                    self.store(Size::DW, Reg::FP, at, Operand::Reg(r));
                    self.free(v);
                }
                Part::Buf(src, ty) => {
                    self.convert_copy((Reg::FP, src), &ty, (Reg::FP, at), &Type::Str(size as u16));
                }
            }
            at += size as i16;
        }
        self.ringbuf_output(off, total);
    }
}
