//! The reference helpers: one implementation, called by the interpreter
//! through [`Env::call`](crate::interp::Env::call) and by native code through
//! the shims in [`super::native`].
//!
//! Each helper first checks what it can check about its arguments (is the
//! handle one of ours, of an accepted kind, is a size sane) and reports a
//! [`TrapKind`] rather than acting on nonsense; pointer validity it cannot
//! check and takes from its caller's `unsafe` contract.
#![allow(unsafe_code)]

use alloc::vec::Vec;

use super::raw;
use super::{Errno, ModelEnv, Store};
use crate::abi::consts::errno;
use crate::abi::helpers::{self, Arg, id, stack_flags};
use crate::insn::HelperId;
use crate::interp::{ArgProblem, TrapKind};
use crate::object::limits;

/// A helper's return value for an error code.
fn neg(e: Errno) -> u64 {
    (e as i64).wrapping_neg() as u64
}

fn ret(r: Result<(), Errno>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => neg(e),
    }
}

fn bad(arg: u8, why: ArgProblem) -> TrapKind {
    TrapKind::BadHelperArg { arg, why }
}

/// No memory region a program can hand a helper is larger than this (the
/// stack is 512 bytes, a map value at most `MAX_VALUE_SIZE`), so a larger
/// size is a broken caller, not a big read.
fn check_size(arg: u8, size: u64) -> Result<usize, TrapKind> {
    if size == 0 {
        return Err(bad(arg, ArgProblem::ZeroSize));
    }
    if size > u64::from(limits::MAX_VALUE_SIZE) {
        return Err(bad(arg, ArgProblem::OutOfBounds { addr: 0, len: size }));
    }
    Ok(size as usize)
}

impl ModelEnv {
    /// The map behind argument `arg` of helper `h`, checked against the
    /// kinds the helper table allows there.
    fn map_arg(&self, h: HelperId, arg: u8, handle: u64) -> Result<usize, TrapKind> {
        let i = self
            .index_of_handle(handle)
            .ok_or(bad(arg, ArgProblem::NotAMap))?;
        let kind = self.maps[i].def.kind;
        let allowed = helpers::find(h)
            .and_then(|d| d.args.get(usize::from(arg) - 1))
            .is_some_and(|a| matches!(a, Arg::Map(kinds) if kinds.contains(&kind)));
        if !allowed {
            return Err(bad(arg, ArgProblem::WrongMapKind(kind)));
        }
        Ok(i)
    }

    /// Run helper `h` with the raw register values `a`.
    ///
    /// # Safety
    /// Pointer arguments must be valid as the helper table declares (see
    /// [`crate::interp::Env::call`]).
    pub(crate) unsafe fn dispatch(&mut self, h: HelperId, a: [u64; 5]) -> Result<u64, TrapKind> {
        let cpu = self.event.cpu as usize;
        match h {
            id::MAP_LOOKUP_ELEM => {
                let m = self.map_arg(h, 1, a[0])?;
                let ks = self.maps[m].def.key_size as usize;
                // SAFETY: `MapKey`: the caller guarantees `key_size` bytes.
                let key = unsafe { raw::read(a[1], ks) };
                let p = match &mut self.maps[m].store {
                    Store::Hash(s) => s.lookup(&key, cpu),
                    Store::Array(s) => s.lookup(&key, cpu),
                    Store::RingBuf(_) | Store::Stacks(_) => None,
                };
                Ok(p.unwrap_or(0))
            }
            id::MAP_UPDATE_ELEM => {
                let m = self.map_arg(h, 1, a[0])?;
                let (ks, vs) = {
                    let d = &self.maps[m].def;
                    (d.key_size as usize, d.value_size as usize)
                };
                // SAFETY: `MapKey` and `MapValue`: the caller guarantees
                // `key_size` and `value_size` readable bytes.
                let (key, value) = unsafe { (raw::read(a[1], ks), raw::read(a[2], vs)) };
                let map = &mut self.maps[m];
                let r = match &mut map.store {
                    Store::Hash(s) => s.update(&key, &value, a[3], cpu),
                    Store::Array(s) => s.update(&key, &value, a[3], cpu),
                    Store::RingBuf(_) | Store::Stacks(_) => Err(errno::EINVAL),
                };
                if r == Err(errno::E2BIG) && !matches!(map.store, Store::Array(_)) {
                    // A full hash map loses the update: that is a drop.
                    map.drops += 1;
                }
                Ok(ret(r))
            }
            id::MAP_DELETE_ELEM => {
                let m = self.map_arg(h, 1, a[0])?;
                let ks = self.maps[m].def.key_size as usize;
                // SAFETY: `MapKey`, as above.
                let key = unsafe { raw::read(a[1], ks) };
                let r = match &mut self.maps[m].store {
                    Store::Hash(s) => s.delete(&key),
                    // Array elements always exist and cannot be deleted.
                    Store::Array(_) => Err(errno::EINVAL),
                    Store::RingBuf(_) | Store::Stacks(_) => Err(errno::EINVAL),
                };
                Ok(ret(r))
            }
            id::KTIME_GET_NS => {
                let c = self.event.clock;
                let t = c
                    .start_ns
                    .wrapping_add(self.clock_reads.wrapping_mul(c.step_ns));
                self.clock_reads += 1;
                Ok(t)
            }
            id::GET_SMP_PROCESSOR_ID => Ok(u64::from(self.event.cpu)),
            id::GET_CURRENT_PID_TGID => {
                Ok(u64::from(self.event.task) << 32 | u64::from(self.event.thread))
            }
            id::GET_CURRENT_COMM => {
                let size = check_size(2, a[1])?;
                // Linux's strscpy_pad: at most size - 1 name bytes, then NULs.
                let mut buf = alloc::vec![0u8; size];
                let name_len = self.event.comm.iter().position(|&b| b == 0).unwrap_or(16);
                let n = name_len.min(size - 1);
                buf[..n].copy_from_slice(&self.event.comm[..n]);
                // SAFETY: `WriteMem` + `Size`: `size` writable bytes.
                unsafe { raw::write(a[0], &buf) };
                Ok(0)
            }
            id::GET_STACKID => {
                let m = self.map_arg(h, 2, a[1])?;
                let frames = if a[2] & stack_flags::USER_STACK != 0 {
                    &self.event.user_stack
                } else {
                    &self.event.kernel_stack
                };
                let frames = frames.clone();
                let map = &mut self.maps[m];
                let Store::Stacks(s) = &mut map.store else {
                    return Err(bad(2, ArgProblem::WrongMapKind(map.def.kind)));
                };
                match s.get_stackid(&frames, a[2]) {
                    Ok(id) => Ok(u64::from(id)),
                    Err(e) => {
                        if e == errno::EEXIST {
                            // The stack could not be stored: a drop.
                            map.drops += 1;
                        }
                        Ok(neg(e))
                    }
                }
            }
            id::PROBE_READ_USER | id::PROBE_READ_KERNEL => {
                let size = check_size(2, a[1])?;
                let ranges = if h == id::PROBE_READ_USER {
                    &self.event.user_memory
                } else {
                    &self.event.kernel_memory
                };
                let found = ranges.iter().find_map(|r| {
                    let off = a[2].checked_sub(r.addr)? as usize;
                    r.bytes.get(off..off.checked_add(size)?)
                });
                // A failed read zero-fills the destination, as in Linux, so
                // the program never sees stale bytes.
                let (bytes, r): (Vec<u8>, _) = match found {
                    Some(b) => (b.to_vec(), 0),
                    None => (alloc::vec![0u8; size], neg(errno::EFAULT)),
                };
                // SAFETY: `WriteMem` + `Size`: `size` writable bytes.
                unsafe { raw::write(a[0], &bytes) };
                Ok(r)
            }
            id::RINGBUF_OUTPUT => {
                let m = self.map_arg(h, 1, a[0])?;
                let size = check_size(3, a[2])?;
                // SAFETY: `ReadMem` + `Size`: `size` readable bytes.
                let data = unsafe { raw::read(a[1], size) };
                let map = &mut self.maps[m];
                let Store::RingBuf(rb) = &mut map.store else {
                    return Err(bad(1, ArgProblem::WrongMapKind(map.def.kind)));
                };
                let r = rb.output(data, a[3]);
                if r == Err(errno::ENOSPC) {
                    map.drops += 1;
                }
                Ok(ret(r))
            }
            other => Err(TrapKind::UnknownHelper(other)),
        }
    }
}
