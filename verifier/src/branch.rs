//! Conditional jumps: which edges are feasible, and what each edge teaches.
//!
//! Numbers are refined with [`crate::cmp::assume`]. A lookup result compared
//! with 0 is a null check: on one edge every copy (same id) becomes the
//! number 0, on the other a map-value pointer. Other pointers are never
//! null, so their comparisons with 0 are decided. Comparing a pointer with
//! anything else would reveal its address (rule 7) and is rejected, except
//! two pointers into the same region, whose order is the order of their
//! offsets.

use capscope_bytecode::insn::{JmpCond, Operand, Reg, Width};

use crate::cmp::{Pred, assume};
use crate::exec::{Res, read};

use crate::range::Scalar;
use crate::reject::RejectKind;
use crate::state::State;
use crate::value::Value;

/// The states on the two edges of a conditional jump (`None`: infeasible).
pub struct Edges {
    /// The jump is taken.
    pub taken: Option<State>,
    /// The jump falls through.
    pub fall: Option<State>,
}

enum Outcome {
    /// The condition holds exactly when the pointer is null.
    WhenNull,
    /// ... exactly when it is not null.
    WhenNonNull,
    Always,
    Never,
}

/// For `ptr cond 0`, when the condition holds. Signed conditions would
/// reveal the address's sign bit and are not offered.
fn null_outcome(pred: Pred) -> Option<Outcome> {
    use JmpCond::*;
    Some(match pred {
        Pred::Cond(Eq | Le) => Outcome::WhenNull,
        Pred::Cond(Ne | Gt) => Outcome::WhenNonNull,
        Pred::Cond(Ge) => Outcome::Always,
        Pred::Cond(Lt) => Outcome::Never,
        _ => return None,
    })
}

/// Every copy of lookup `id` is null (`null`) or not. `None` if the state
/// contradicts it (a copy was already proven non-null).
fn refine_null(mut s: State, id: u32, null: bool) -> Option<State> {
    let mut ok = true;
    s.for_each_value_mut(|v| match v {
        Value::MapValueOrNull { map, id: i, size } if *i == id => {
            *v = if null {
                Value::Scalar(Scalar::constant(0))
            } else {
                Value::MapValue {
                    map: *map,
                    id,
                    size: *size,
                    off: Scalar::constant(0),
                }
            };
        }
        Value::MapValue { id: i, .. } if *i == id && null => ok = false,
        _ => {}
    });
    ok.then_some(s)
}

fn is_zero(v: &Value) -> bool {
    matches!(v, Value::Scalar(s) if s.as_const() == Some(0))
}

/// Split `state` along the jump `if dst cond src`. On rejection the
/// state comes back unchanged, for the message (rejections are rare, so the
/// large error type costs nothing in practice).
#[allow(clippy::result_large_err)]
pub fn branch(
    state: State,
    width: Width,
    cond: JmpCond,
    dst: Reg,
    src: Operand,
) -> Result<Edges, (RejectKind, State)> {
    let (a, b, src_reg) = match operands(&state, width, dst, src) {
        Ok(x) => x,
        Err(k) => return Err((k, state)),
    };
    if let (Value::Scalar(_), Value::Scalar(_)) = (&a, &b) {
        return Ok(scalars(state, width, cond, dst, src_reg, &a, &b));
    }
    match pointers(width, cond, dst, src_reg, &a, &b) {
        Ok((id, on_taken, on_fall)) => {
            let taken = on_taken.and_then(|n| refine_null(state.clone(), id, n));
            let fall = on_fall.and_then(|n| refine_null(state, id, n));
            Ok(Edges { taken, fall })
        }
        Err(Decision::Taken(t, f)) => Ok(Edges {
            taken: t.then(|| state.clone()),
            fall: f.then_some(state),
        }),
        Err(Decision::Reject(k)) => Err((k, state)),
    }
}

type Operands = (Value, Value, Option<Reg>);

fn operands(state: &State, width: Width, dst: Reg, src: Operand) -> Res<Operands> {
    let a = read(state, dst)?;
    let (b, src_reg) = match src {
        Operand::Imm(i) => (
            Value::Scalar(Scalar::constant(match width {
                Width::W64 => i as i64 as u64,
                Width::W32 => u64::from(i as u32),
            })),
            None,
        ),
        Operand::Reg(r) => (read(state, r)?, Some(r)),
    };
    Ok((a, b, src_reg))
}

fn scalars(
    state: State,
    width: Width,
    cond: JmpCond,
    dst: Reg,
    src_reg: Option<Reg>,
    a: &Value,
    b: &Value,
) -> Edges {
    let pred = Pred::Cond(cond);
    let (Value::Scalar(x), Value::Scalar(y)) = (a, b) else {
        return Edges {
            taken: Some(state.clone()),
            fall: Some(state),
        };
    };
    {
        let mk = |p: Pred, mut s: State| -> Option<State> {
            let (nx, ny) = assume(width, p, x, y)?;
            s.set(dst, Value::Scalar(nx));
            if let Some(r) = src_reg {
                s.set(r, Value::Scalar(ny));
            }
            // a register compared with itself must stay one value
            if src_reg == Some(dst) {
                s.set(dst, Value::Scalar(nx));
            }
            Some(s)
        };
        let taken = mk(pred, state.clone());
        let fall = mk(pred.negate(), state);
        Edges { taken, fall }
    }
}

/// The outcome of a pointer comparison that needs no null refinement.
enum Decision {
    /// Which edges are feasible.
    Taken(bool, bool),
    Reject(RejectKind),
}

/// A comparison involving a pointer: `Ok((id, taken, fall))` for a
/// null check of lookup `id` (`Some(true)`: the edge sees null), or a
/// decision.
#[allow(clippy::type_complexity)]
fn pointers(
    width: Width,
    cond: JmpCond,
    dst: Reg,
    src_reg: Option<Reg>,
    a: &Value,
    b: &Value,
) -> Result<(u32, Option<bool>, Option<bool>), Decision> {
    let pred = Pred::Cond(cond);
    let reject = |k| Err(Decision::Reject(k));
    let dst_reg = dst;
    let src_name = src_reg.unwrap_or(dst_reg);
    if matches!(a, Value::PtrBits) {
        return reject(RejectKind::PointerBitsUse { reg: dst_reg });
    }
    if matches!(b, Value::PtrBits) {
        return reject(RejectKind::PointerBitsUse { reg: src_name });
    }
    let ptr_reg = if a.is_pointer() { dst_reg } else { src_name };
    if width == Width::W32 {
        return reject(RejectKind::PointerCompare { reg: ptr_reg });
    }
    // Pointer against the number 0 (either side).
    let (ptr, p) = if is_zero(b) {
        (a, pred)
    } else if is_zero(a) {
        (b, pred.swap())
    } else {
        return match same_region(a, b, pred, ptr_reg) {
            Ok((t, f)) => Err(Decision::Taken(t, f)),
            Err(k) => reject(k),
        };
    };
    let Some(outcome) = null_outcome(p) else {
        return reject(RejectKind::PointerCompare { reg: ptr_reg });
    };
    let (on_taken, on_fall) = match outcome {
        Outcome::WhenNull => (Some(true), Some(false)),
        Outcome::WhenNonNull => (Some(false), Some(true)),
        Outcome::Always => return Err(Decision::Taken(true, false)),
        Outcome::Never => return Err(Decision::Taken(false, true)),
    };
    match ptr {
        Value::MapValueOrNull { id, .. } => Ok((*id, on_taken, on_fall)),
        // every other pointer is non-null
        _ => Err(Decision::Taken(
            on_taken == Some(false),
            on_fall == Some(false),
        )),
    }
}

/// Two pointers into the same region compare as their offsets: which
/// edges are feasible.
fn same_region(a: &Value, b: &Value, pred: Pred, reg: Reg) -> Res<(bool, bool)> {
    let offs = match (a, b) {
        (Value::Stack { off: x }, Value::Stack { off: y }) => Some((*x, *y)),
        (Value::Ctx { off: x }, Value::Ctx { off: y }) => {
            Some((Scalar::constant(*x as u64), Scalar::constant(*y as u64)))
        }
        (
            Value::MapValue {
                id: i,
                off: x,
                map: m,
                ..
            },
            Value::MapValue {
                id: j,
                off: y,
                map: n,
                ..
            },
        ) if i == j && *i != 0 && m == n => Some((*x, *y)),
        _ => None,
    };
    let Some((x, y)) = offs else {
        return Err(RejectKind::PointerCompare { reg });
    };
    if matches!(pred, Pred::Cond(JmpCond::Set)) {
        return Err(RejectKind::PointerCompare { reg });
    }
    // Offsets are bounded far below 2^63, so signed and unsigned orders of
    // the addresses agree with the signed order of the offsets.
    let signed = |p: Pred| match p {
        Pred::Cond(c) => Pred::Cond(match c {
            JmpCond::Gt => JmpCond::Sgt,
            JmpCond::Ge => JmpCond::Sge,
            JmpCond::Lt => JmpCond::Slt,
            JmpCond::Le => JmpCond::Sle,
            c => c,
        }),
        p => p,
    };
    let t = assume(Width::W64, signed(pred), &x, &y).is_some();
    let f = assume(Width::W64, signed(pred.negate()), &x, &y).is_some();
    Ok((t, f))
}
