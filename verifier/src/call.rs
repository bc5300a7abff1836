//! Helper calls (rule 8): every argument against the helper table, the one
//! place helper signatures are defined (`capscope_bytecode::abi::helpers`).
//!
//! Memory arguments must lie inside the stack or a map value; bytes a
//! helper reads must be initialized and pointer-free (it may export them,
//! rule 7); bytes it writes become initialized. After the call r1-r5 are
//! unreadable and r0 holds the declared result.

use capscope_bytecode::abi::helpers::{self, Arg, Helper, Ret};
use capscope_bytecode::insn::{HelperId, InsnIdx, MapIdx, Reg};

use crate::exec::{Env, Res, read};
use crate::range::Scalar;
use crate::reject::{ArgKind, RejectKind};
use crate::stack::{Bytes, CellKind};
use crate::state::State;
use crate::value::Value;

fn arg_reg(i: usize) -> Reg {
    Reg::new(i as u8 + 1).unwrap_or(Reg::R5)
}

fn kind_of(a: &Arg) -> ArgKind {
    match a {
        Arg::Scalar => ArgKind::Scalar,
        Arg::Map(_) => ArgKind::Map,
        Arg::MapKey => ArgKind::MapKey,
        Arg::MapValue => ArgKind::MapValue,
        Arg::Ctx => ArgKind::Ctx,
        Arg::ReadMem => ArgKind::ReadMem,
        Arg::WriteMem => ArgKind::WriteMem,
        Arg::Size => ArgKind::Size,
    }
}

/// How a memory argument is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reads `min..=max` bytes (a size argument gives the count).
    Read,
    /// Writes them.
    Write,
    /// Reads exactly a key or value size.
    Fixed,
}

/// Call helper `id` at instruction `at`.
pub fn call(env: &Env<'_>, state: &mut State, at: InsnIdx, id: HelperId) -> Res<()> {
    // Unknown numbers were rejected statically.
    let Some(h) = helpers::find(id) else {
        return Err(RejectKind::UnknownHelper { id: id.0 });
    };
    let mut map: Option<MapIdx> = None;
    let mut i = 0;
    while i < h.args.len() {
        let a = &h.args[i];
        let r = arg_reg(i);
        let argn = i as u8 + 1;
        let bad = || RejectKind::HelperArg {
            helper: id,
            arg: argn,
            expected: kind_of(a),
        };
        let v = read(state, r)?;
        match a {
            Arg::Scalar | Arg::Size => match v {
                Value::Scalar(_) => {}
                Value::PtrBits => {
                    return Err(RejectKind::HelperLeak {
                        helper: id,
                        arg: argn,
                    });
                }
                v if v.is_pointer() => {
                    return Err(RejectKind::HelperLeak {
                        helper: id,
                        arg: argn,
                    });
                }
                _ => return Err(bad()),
            },
            Arg::Map(kinds) => match v {
                Value::MapPtr { map: m } => {
                    let def = &env.maps[m.as_usize()];
                    if !kinds.contains(&def.kind) {
                        return Err(RejectKind::HelperMapKind {
                            helper: id,
                            map: m,
                            kind: def.kind,
                        });
                    }
                    map = Some(m);
                }
                _ => return Err(bad()),
            },
            Arg::Ctx => match v {
                Value::Ctx { off: 0 } => {}
                Value::Ctx { off } => return Err(RejectKind::HelperCtxOffset { helper: id, off }),
                _ => return Err(bad()),
            },
            Arg::MapKey | Arg::MapValue => {
                let def = map.map(|m| &env.maps[m.as_usize()]);
                let Some(def) = def else { return Err(bad()) };
                let n = if *a == Arg::MapKey {
                    def.key_size
                } else {
                    def.value_size
                };
                memory(
                    state,
                    h,
                    argn,
                    r,
                    &v,
                    u64::from(n),
                    u64::from(n),
                    Use::Fixed,
                    bad,
                )?;
            }
            Arg::ReadMem | Arg::WriteMem => {
                let sr = arg_reg(i + 1);
                let size = match read(state, sr)? {
                    Value::Scalar(s) => s,
                    v if v.is_pointer() || v == Value::PtrBits => {
                        return Err(RejectKind::HelperLeak {
                            helper: id,
                            arg: argn + 1,
                        });
                    }
                    _ => {
                        return Err(RejectKind::HelperArg {
                            helper: id,
                            arg: argn + 1,
                            expected: ArgKind::Size,
                        });
                    }
                };
                let how = if *a == Arg::ReadMem {
                    Use::Read
                } else {
                    Use::Write
                };
                memory(state, h, argn, r, &v, size.umin, size.umax, how, bad)?;
                i += 1; // the size argument is consumed
            }
        }
        i += 1;
    }
    let ret = match h.ret {
        Ret::Scalar => Value::Scalar(Scalar::UNKNOWN),
        Ret::MapValueOrNull => {
            let m = map.unwrap_or(MapIdx(0));
            Value::MapValueOrNull {
                map: m,
                id: state.fresh_id(),
                size: env.maps.get(m.as_usize()).map_or(0, |d| d.value_size),
            }
        }
    };
    for n in 1..=5 {
        if let Some(r) = Reg::new(n) {
            state.set(r, Value::Uninit(Some(at)));
        }
    }
    state.set(Reg::R0, ret);
    Ok(())
}

/// Check a memory argument `v` (in `r`) for `min..=max` bytes, and apply
/// the helper's writes.
#[allow(clippy::too_many_arguments)]
fn memory(
    state: &mut State,
    h: &Helper,
    argn: u8,
    r: Reg,
    v: &Value,
    min: u64,
    max: u64,
    how: Use,
    bad: impl Fn() -> RejectKind,
) -> Res<()> {
    let id = h.id;
    let (lo, hi_off, room) = match v {
        Value::Stack { off } => {
            if off.smin < -512 || off.smax >= 0 {
                return Err(bad());
            }
            (off.smin, off.smax, (-off.smax) as u64)
        }
        Value::MapValue { off, size, .. } => {
            if off.smin < 0 || off.smax >= i64::from(*size) {
                return Err(bad());
            }
            (off.smin, off.smax, (i64::from(*size) - off.smax) as u64)
        }
        Value::MapValueOrNull { .. } => return Err(RejectKind::MaybeNull { reg: r }),
        Value::PtrBits => return Err(RejectKind::PointerBitsUse { reg: r }),
        _ => return Err(bad()),
    };
    if how == Use::Fixed && max > room {
        return Err(RejectKind::HelperMemTooSmall {
            helper: id,
            arg: argn,
            need: max,
            room,
        });
    }
    if min == 0 || max > room {
        return Err(RejectKind::HelperSize {
            helper: id,
            arg: argn + 1,
            min,
            max,
            room,
        });
    }
    let Value::Stack { .. } = v else {
        // Map values are always initialized and never hold pointers.
        return Ok(());
    };
    // max <= room <= 512 here
    let (lo, hi) = (lo as i32, (hi_off + max as i64) as i32);
    match how {
        Use::Read | Use::Fixed => match state.stack.bytes(lo, hi) {
            Bytes::Data => Ok(()),
            Bytes::PtrBits => Err(RejectKind::HelperLeak {
                helper: id,
                arg: argn,
            }),
            Bytes::Uninit(at) => Err(RejectKind::HelperUninitMem {
                helper: id,
                arg: argn,
                offset: at,
            }),
        },
        Use::Write => {
            // Bytes written on every execution: from the highest start to
            // the lowest end.
            let sure_lo = hi_off as i32;
            let sure_hi = (lo as i64 + min as i64) as i32;
            state.stack.weaken(lo, hi, false);
            if sure_lo < sure_hi {
                state
                    .stack
                    .write(sure_lo, (sure_hi - sure_lo) as u32, CellKind::Data);
            }
            Ok(())
        }
    }
}
