//! Helper calls: argument checks against the helper table, the call into
//! the [`Env`](super::Env), and what the result means for memory.
//!
//! In checked mode every argument is held to its declared
//! [`Arg`] type before the environment sees it, which is what makes handing
//! raw pointers to the environment sound. A helper that returns a map value
//! grants the program access to `value_size` bytes at the returned address.
#![allow(unsafe_code)]

use crate::abi::helpers::{self, Arg, Helper, Ret};
use crate::insn::{HelperId, Reg};

use super::exec::Machine;
use super::memory::Place;
use super::trap::{ArgProblem, LeakSink, TrapKind};

/// A helper's memory argument that it writes: marked written afterwards.
struct Written {
    place: Place,
    len: usize,
}

pub(crate) fn call(m: &mut Machine<'_, '_>, id: HelperId) -> Result<(), TrapKind> {
    let h = helpers::find(id).ok_or(TrapKind::UnknownHelper(id))?;
    let mut args = [0u64; 5];
    for (i, a) in args.iter_mut().enumerate() {
        let r = arg_reg(i);
        *a = if i < h.args.len() {
            m.get(r)?
        } else {
            // Not read by the helper; pass whatever is there.
            m.regs_raw(r)
        };
    }
    let mut writes: [Option<Written>; 2] = [None, None];
    let mut value_size = 0u64;
    if m.mem.checked() {
        value_size = check_args(m, h, &args, &mut writes)?;
    }
    // SAFETY: in checked mode `check_args` just held every argument to its
    // declared type: maps are handles the env gave out, keys and values and
    // memory arguments lie in accessible regions for their full length (and
    // the ones the helper reads are initialized). In trusted mode the
    // verifier proved the same.
    let r0 = unsafe { m.env.call(id, args) }?;
    for w in writes.into_iter().flatten() {
        m.mem.note_write(w.place, w.len, false);
    }
    let is_value = h.ret == Ret::MapValueOrNull && r0 != 0;
    if is_value && m.mem.checked() {
        m.mem.grant(r0, value_size);
    }
    m.clobber_args();
    // A map value pointer is a kernel address: it must not leave either.
    m.set(Reg::R0, r0, is_value)
}

fn arg_reg(i: usize) -> Reg {
    match i {
        0 => Reg::R1,
        1 => Reg::R2,
        2 => Reg::R3,
        3 => Reg::R4,
        _ => Reg::R5,
    }
}

/// Check every argument of `h`; returns the value size of the helper's map
/// (what a returned map value grants).
fn check_args(
    m: &Machine<'_, '_>,
    h: &Helper,
    args: &[u64; 5],
    writes: &mut [Option<Written>; 2],
) -> Result<u64, TrapKind> {
    // (key size, value size) of the map argument seen so far.
    let mut map: Option<(u32, u32)> = None;
    let mut nwrites = 0;
    for (i, arg) in h.args.iter().enumerate() {
        let n = i as u8 + 1;
        let v = args[i];
        let pointer = m.is_pointer(arg_reg(i));
        let bad = |why| TrapKind::BadHelperArg { arg: n, why };
        match *arg {
            Arg::Scalar | Arg::Size => {
                if pointer {
                    return Err(TrapKind::PointerLeak(LeakSink::HelperArg(n)));
                }
            }
            Arg::Map(kinds) => {
                let def = m.env.map_def(v).ok_or(bad(ArgProblem::NotAMap))?;
                if !kinds.contains(&def.kind) {
                    return Err(bad(ArgProblem::WrongMapKind(def.kind)));
                }
                map = Some((def.key_size, def.value_size));
            }
            Arg::MapKey | Arg::MapValue => {
                let (key_size, value_size) = map.ok_or(bad(ArgProblem::NoMap))?;
                let len = if *arg == Arg::MapKey {
                    key_size
                } else {
                    value_size
                };
                m.mem.check_helper_read(n, v, u64::from(len))?;
            }
            Arg::Ctx => {
                if v != m.mem.ctx_ptr() {
                    return Err(bad(ArgProblem::NotContext));
                }
            }
            Arg::ReadMem | Arg::WriteMem => {
                // The table pairs every memory argument with a Size after it.
                let len = args.get(i + 1).copied().unwrap_or(0);
                if m.is_pointer(arg_reg(i + 1)) {
                    return Err(TrapKind::PointerLeak(LeakSink::HelperArg(n + 1)));
                }
                if len == 0 {
                    return Err(TrapKind::BadHelperArg {
                        arg: n + 1,
                        why: ArgProblem::ZeroSize,
                    });
                }
                if *arg == Arg::ReadMem {
                    m.mem.check_helper_read(n, v, len)?;
                } else {
                    let place = m.mem.check_helper_write(n, v, len)?;
                    if let Some(slot) = writes.get_mut(nwrites) {
                        // `locate` succeeded, so `len` fits in one region.
                        *slot = Some(Written {
                            place,
                            len: len as usize,
                        });
                        nwrites += 1;
                    }
                }
            }
        }
    }
    Ok(map.map_or(0, |(_, v)| u64::from(v)))
}
