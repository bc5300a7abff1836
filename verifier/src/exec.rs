//! Transfer functions for registers and memory: ALU, loads, stores,
//! atomics and `exit` (rules 2 to 7).
//!
//! Every function checks before it changes anything, so when it rejects,
//! the state still shows the registers as they were before the instruction.

use capscope_bytecode::abi::{AttachPoint, fields, fields::FieldType};
use capscope_bytecode::insn::{AluOp, AtomicOp, LoadImmKind, MapIdx, Operand, Reg, Size, Width};
use capscope_bytecode::object::MapDef;

use crate::arith;
use crate::range::Scalar;
use crate::reject::{Region, RejectKind};
use crate::stack::{Bytes, CellKind};
use crate::state::State;
use crate::value::Value;

/// The largest offset magnitude a pointer may carry, and the largest
/// number that may be added to one (as Linux's `BPF_MAX_VAR_OFF`), so
/// offset arithmetic can never wrap.
pub const MAX_VAR_OFF: i64 = 1 << 29;

/// What the program runs against.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The object's maps.
    pub maps: &'a [MapDef],
    /// Where the program attaches (which context fields are readable).
    pub point: AttachPoint,
}

pub(crate) type Res<T> = Result<T, RejectKind>;

/// A register's value, which must have been written.
pub(crate) fn read(state: &State, r: Reg) -> Res<Value> {
    match state.reg(r) {
        Value::Uninit(c) => Err(RejectKind::UninitRegister {
            reg: r,
            clobbered_by: *c,
        }),
        v => Ok(v.clone()),
    }
}

/// Why a non-number in `reg` cannot be used as a number.
pub(crate) fn not_a_number(v: &Value, reg: Reg) -> RejectKind {
    match v {
        Value::PtrBits => RejectKind::PointerBitsUse { reg },
        Value::MapValueOrNull { .. } => RejectKind::MaybeNull { reg },
        Value::MapPtr { .. } => RejectKind::MapPtrUse { reg },
        Value::Uninit(c) => RejectKind::UninitRegister {
            reg,
            clobbered_by: *c,
        },
        _ => RejectKind::PointerAlu { reg },
    }
}

fn imm(width: Width, i: i32) -> Scalar {
    Scalar::constant(match width {
        Width::W64 => i as i64 as u64,
        Width::W32 => u64::from(i as u32),
    })
}

/// `dst op= src`.
pub fn alu(state: &mut State, width: Width, op: AluOp, dst: Reg, src: Operand) -> Res<()> {
    let (b, src_reg) = match src {
        Operand::Imm(i) => (Value::Scalar(imm(width, i)), dst),
        Operand::Reg(r) => (read(state, r)?, r),
    };
    if op == AluOp::Mov {
        let v = match (width, b) {
            (Width::W64, v) => v,
            (Width::W32, Value::Scalar(s)) => Value::Scalar(s.zext32()),
            (Width::W32, v) => return Err(not_a_number(&v, src_reg)),
        };
        state.set(dst, v);
        return Ok(());
    }
    let a = read(state, dst)?;
    let v = match (&a, &b) {
        (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(arith::alu(width, op, x, y)),
        (Value::PtrBits, _) => return Err(RejectKind::PointerBitsUse { reg: dst }),
        (_, Value::PtrBits) => return Err(RejectKind::PointerBitsUse { reg: src_reg }),
        _ if width == Width::W32 || !matches!(op, AluOp::Add | AluOp::Sub) => {
            return Err(if a.is_pointer() {
                not_a_number(&a, dst)
            } else {
                not_a_number(&b, src_reg)
            });
        }
        (p, Value::Scalar(k)) => offset(p, k, op == AluOp::Sub, dst)?,
        (Value::Scalar(k), p) if op == AluOp::Add => offset(p, k, false, src_reg)?,
        (Value::Scalar(_), p) => return Err(not_a_number(p, src_reg)),
        _ => return Err(RejectKind::PointerAlu { reg: dst }),
    };
    state.set(dst, v);
    Ok(())
}

fn bounded(s: &Scalar) -> bool {
    s.smin >= -MAX_VAR_OFF && s.smax <= MAX_VAR_OFF
}

/// Pointer `p` (in `reg`) plus or minus the number `k` (rule 6).
fn offset(p: &Value, k: &Scalar, sub: bool, reg: Reg) -> Res<Value> {
    let op = if sub { AluOp::Sub } else { AluOp::Add };
    match p {
        Value::Ctx { off } => {
            let Some(c) = k.as_const() else {
                return Err(RejectKind::CtxArith);
            };
            let c = c as i64;
            let new = if sub {
                off.checked_sub(c)
            } else {
                off.checked_add(c)
            };
            match new {
                Some(n) if n.abs() <= MAX_VAR_OFF => Ok(Value::Ctx { off: n }),
                _ => Err(RejectKind::CtxArith),
            }
        }
        Value::Stack { off } | Value::MapValue { off, .. } => {
            if !bounded(k) {
                return Err(RejectKind::UnboundedArith { reg });
            }
            let new = arith::alu(Width::W64, op, off, k);
            if !bounded(&new) {
                return Err(RejectKind::UnboundedArith { reg });
            }
            Ok(match p {
                Value::MapValue { map, id, size, .. } => Value::MapValue {
                    map: *map,
                    id: *id,
                    size: *size,
                    off: new,
                },
                _ => Value::Stack { off: new },
            })
        }
        other => Err(not_a_number(other, reg)),
    }
}

/// `dst = -dst`.
pub fn neg(state: &mut State, width: Width, dst: Reg) -> Res<()> {
    match read(state, dst)? {
        Value::Scalar(s) => {
            state.set(dst, Value::Scalar(arith::neg(width, &s)));
            Ok(())
        }
        v => Err(not_a_number(&v, dst)),
    }
}

/// `dst = (sN) src`.
pub fn movsx(state: &mut State, width: Width, dst: Reg, src: Reg, bits: u8) -> Res<()> {
    match read(state, src)? {
        Value::Scalar(s) => {
            state.set(dst, Value::Scalar(arith::movsx(width, &s, bits)));
            Ok(())
        }
        v => Err(not_a_number(&v, src)),
    }
}

/// Byte swaps.
pub fn swap(
    state: &mut State,
    order: capscope_bytecode::insn::SwapOrder,
    dst: Reg,
    bits: u8,
) -> Res<()> {
    match read(state, dst)? {
        Value::Scalar(s) => {
            state.set(dst, Value::Scalar(arith::swap(order, &s, bits)));
            Ok(())
        }
        v => Err(not_a_number(&v, dst)),
    }
}

/// `lddw` (map indices were checked statically).
pub fn load_imm64(state: &mut State, kind: LoadImmKind, dst: Reg, lo: i32, hi: i32) -> Res<()> {
    let v = match kind {
        LoadImmKind::Map => Value::MapPtr {
            map: MapIdx(lo as u32),
        },
        _ => Value::Scalar(Scalar::constant(
            (u64::from(hi as u32) << 32) | u64::from(lo as u32),
        )),
    };
    state.set(dst, v);
    Ok(())
}

/// Where an access lands, after its bounds are checked.
pub(crate) enum Target {
    /// Stack bytes `[lo, hi)` from r10; `exact` if the offset is known.
    Stack { lo: i32, hi: i32, exact: bool },
    /// A map value, in bounds.
    MapValue,
    /// The context at this offset (checked against the fields on read).
    Ctx { off: i64 },
}

/// Resolve `base + off` for a `size`-byte access, checking bounds (rules 3, 5).
pub(crate) fn resolve(state: &State, base: Reg, off: i16, size: u32) -> Res<Target> {
    let off = i64::from(off);
    match read(state, base)? {
        Value::Ctx { off: o } => Ok(Target::Ctx {
            off: o.saturating_add(off),
        }),
        Value::Stack { off: s } => {
            let lo = s.smin.saturating_add(off);
            let hi = s.smax.saturating_add(off + i64::from(size));
            if lo < -512 || hi > 0 {
                return Err(RejectKind::OutOfBounds {
                    region: Region::Stack,
                    lo,
                    hi,
                    size: 512,
                });
            }
            Ok(Target::Stack {
                lo: lo as i32,
                hi: hi as i32,
                exact: s.as_const().is_some(),
            })
        }
        Value::MapValue {
            off: s, size: vs, ..
        } => {
            let lo = s.smin.saturating_add(off);
            let hi = s.smax.saturating_add(off + i64::from(size));
            if lo < 0 || hi > i64::from(vs) {
                return Err(RejectKind::OutOfBounds {
                    region: Region::MapValue,
                    lo,
                    hi,
                    size: vs,
                });
            }
            Ok(Target::MapValue)
        }
        Value::Scalar(_) => Err(RejectKind::NotAPointer { reg: base }),
        v => Err(not_a_number(&v, base)),
    }
}

fn sign_extend(v: Value, size: u32, signed: bool) -> Value {
    match v {
        Value::Scalar(s) if signed && size < 8 => Value::Scalar(s.sign_extend(size * 8)),
        v => v,
    }
}

/// `dst = *(size *)(src + off)`.
pub fn load(
    env: &Env<'_>,
    state: &mut State,
    size: Size,
    signed: bool,
    dst: Reg,
    src: Reg,
    off: i16,
) -> Res<()> {
    let n = size.bytes() as u32;
    let v = match resolve(state, src, off, n)? {
        Target::Ctx { off } => {
            let field = usize::try_from(off)
                .ok()
                .and_then(|o| fields::at(env.point, o, n as usize))
                .ok_or(RejectKind::CtxField {
                    offset: off,
                    size: n,
                    point: env.point,
                })?;
            Value::Scalar(match field.ty {
                FieldType::U32 => Scalar::unknown_bytes(4),
                FieldType::Bool => Scalar::urange(0, 1),
                FieldType::U64 | FieldType::I64 => Scalar::UNKNOWN,
            })
        }
        Target::Stack { lo, hi, exact } => {
            if exact {
                state
                    .stack
                    .read(lo, n)
                    .map_err(|at| RejectKind::UninitStack {
                        offset: at,
                        helper: None,
                    })?
            } else {
                match state.stack.bytes(lo, hi) {
                    Bytes::Uninit(at) => {
                        return Err(RejectKind::UninitStack {
                            offset: at,
                            helper: None,
                        });
                    }
                    Bytes::PtrBits => Value::PtrBits,
                    Bytes::Data => Value::Scalar(Scalar::unknown_bytes(n)),
                }
            }
        }
        Target::MapValue => Value::Scalar(Scalar::unknown_bytes(n)),
    };
    state.set(dst, sign_extend(v, n, signed));
    Ok(())
}

/// `*(size *)(dst + off) = src`.
pub fn store(state: &mut State, size: Size, dst: Reg, off: i16, src: Operand) -> Res<()> {
    let n = size.bytes() as u32;
    let v = match src {
        Operand::Imm(i) => Value::Scalar(Scalar::constant(i as i64 as u64).truncate(n)),
        Operand::Reg(r) => read(state, r)?,
    };
    match resolve(state, dst, off, n)? {
        Target::Ctx { .. } => Err(RejectKind::CtxWrite),
        Target::MapValue => match v {
            Value::Scalar(_) => Ok(()),
            _ => Err(RejectKind::StorePointer {
                region: Region::MapValue,
            }),
        },
        Target::Stack { lo, hi, exact } => {
            if exact {
                let kind = match v {
                    Value::Scalar(s) => CellKind::Spill(Value::Scalar(s.truncate(n))),
                    v if v.is_pointer() && n == 8 => CellKind::Spill(v),
                    _ => CellKind::PtrBits,
                };
                state.stack.write(lo, n, kind);
            } else {
                match v {
                    Value::Scalar(_) => state.stack.weaken(lo, hi, false),
                    Value::PtrBits => state.stack.weaken(lo, hi, true),
                    _ => return Err(RejectKind::VarOffsetPointerSpill),
                }
            }
            Ok(())
        }
    }
}

fn aligned(s: &Scalar, off: i16, size: u32) -> bool {
    let m = u64::from(size) - 1;
    s.tnum.mask & m == 0 && (s.tnum.value.wrapping_add(off as i64 as u64)) & m == 0
}

/// Atomic read-modify-write at `dst + off`.
pub fn atomic(
    state: &mut State,
    size: Size,
    op: AtomicOp,
    dst: Reg,
    off: i16,
    src: Reg,
) -> Res<()> {
    let n = size.bytes() as u32;
    let check_operand = |state: &State, r: Reg, region: Region| -> Res<()> {
        match read(state, r)? {
            Value::Scalar(_) => Ok(()),
            Value::PtrBits => Err(RejectKind::PointerBitsUse { reg: r }),
            _ => Err(RejectKind::StorePointer { region }),
        }
    };
    let target = resolve(state, dst, off, n)?;
    let region = match target {
        Target::Ctx { .. } => return Err(RejectKind::CtxWrite),
        Target::Stack { .. } => Region::Stack,
        Target::MapValue => Region::MapValue,
    };
    check_operand(state, src, region)?;
    if op == AtomicOp::CmpXchg {
        check_operand(state, Reg::R0, region)?;
    }
    let base_off = match state.reg(dst) {
        Value::Stack { off } | Value::MapValue { off, .. } => *off,
        _ => Scalar::constant(0),
    };
    if !aligned(&base_off, off, n) {
        return Err(RejectKind::MisalignedAtomic { size: n });
    }
    if let Target::Stack { lo, hi, exact } = target {
        match state.stack.bytes(lo, hi) {
            Bytes::Uninit(at) => {
                return Err(RejectKind::UninitStack {
                    offset: at,
                    helper: None,
                });
            }
            Bytes::PtrBits => return Err(RejectKind::AtomicOnPointer),
            Bytes::Data => {}
        }
        if exact {
            state.stack.write(
                lo,
                n,
                CellKind::Spill(Value::Scalar(Scalar::unknown_bytes(n))),
            );
        } else {
            state.stack.weaken(lo, hi, false);
        }
    }
    let old = Value::Scalar(Scalar::unknown_bytes(n));
    match op {
        AtomicOp::CmpXchg => state.set(Reg::R0, old),
        AtomicOp::Xchg
        | AtomicOp::Add { fetch: true }
        | AtomicOp::Or { fetch: true }
        | AtomicOp::And { fetch: true }
        | AtomicOp::Xor { fetch: true } => state.set(src, old),
        _ => {}
    }
    Ok(())
}

/// `exit`: r0 must be a number (rules 2 and 7).
pub fn exit(state: &State) -> Res<()> {
    match read(state, Reg::R0)? {
        Value::Scalar(_) => Ok(()),
        _ => Err(RejectKind::ReturnPointer),
    }
}
