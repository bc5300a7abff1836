//! The helpers programs call, as native `extern "C"` functions.
//!
//! Each has the signature and meaning the ABI's helper table declares
//! (`capscope_bytecode::abi::helpers`), which is what the verifier checks
//! calls against. So a helper may rely on what the verifier proves about
//! its arguments: a map argument is a handle from `lddw rX, map[N]` (the
//! address of a live [`Map`]), a key or value pointer covers the map's key
//! or value size, and a memory pointer covers its size argument. Those are
//! the `// SAFETY:` arguments below. Everything else (flags, user and
//! kernel addresses, sizes beyond sanity) is checked here, and a bad
//! address returns `-EFAULT` to the program; it never faults the kernel.
//!
//! Helpers find the current event (its context and kernel frame) and the
//! platform through the per-CPU slot that `fire` fills.

use core::slice;

use crate::abi::consts::errno;
use crate::abi::context::EventHeader;
use crate::abi::helpers::{HelperFn, id, stack_flags};
use crate::fire::{current_event, platform, this_cpu};
use crate::insn::HelperId;
use crate::maps::Map;
use crate::platform::COMM_LEN;

/// The native implementation of helper `id`, for the JIT to call by
/// address (and the interpreter through its environment).
pub fn helper(id: HelperId) -> Option<HelperFn> {
    HELPERS
        .binary_search_by_key(&id, |&(i, _)| i)
        .ok()
        .map(|i| HELPERS[i].1)
}

/// Every implemented helper, sorted by number.
pub static HELPERS: &[(HelperId, HelperFn)] = &[
    (id::MAP_LOOKUP_ELEM, map_lookup_elem),
    (id::MAP_UPDATE_ELEM, map_update_elem),
    (id::MAP_DELETE_ELEM, map_delete_elem),
    (id::KTIME_GET_NS, ktime_get_ns),
    (id::GET_SMP_PROCESSOR_ID, get_smp_processor_id),
    (id::GET_CURRENT_PID_TGID, get_current_pid_tgid),
    (id::GET_CURRENT_COMM, get_current_comm),
    (id::GET_STACKID, get_stackid),
    (id::PROBE_READ_USER, probe_read_user),
    (id::PROBE_READ_KERNEL, probe_read_kernel),
    (id::RINGBUF_OUTPUT, ringbuf_output),
];

/// No memory argument is larger than a map value; anything bigger means
/// the verifier was bypassed, and the helper refuses rather than trusts it.
const MAX_MEM: u64 = crate::object::limits::MAX_VALUE_SIZE as u64;

/// Frames a stack walk collects before skipping and truncating.
const WALK_FRAMES: usize = 256;

/// First address above the canonical lower (user) half on x86-64.
const USER_END: u64 = 0x0000_8000_0000_0000;

const fn err(e: u64) -> u64 {
    e.wrapping_neg()
}

/// This CPU's index; `usize::MAX` (no CPU: maps refuse it) before `init`.
#[inline(always)]
fn cpu() -> usize {
    this_cpu().unwrap_or(usize::MAX)
}

/// # Safety
/// `map` is a handle of a live map (verifier: `Arg::Map`).
#[inline(always)]
unsafe fn map<'a>(map: u64) -> &'a Map {
    // SAFETY: per the function's contract; the map outlives every run of a
    // program that embeds its handle (registry.rs, epoch.rs).
    unsafe { &*(map as *const Map) }
}

/// # Safety
/// `ptr` covers `len` readable bytes (verifier: `Arg::MapKey`/`MapValue`/`ReadMem`).
#[inline(always)]
unsafe fn bytes<'a>(ptr: u64, len: usize) -> &'a [u8] {
    // SAFETY: per the function's contract. The bytes may be a map value
    // another CPU writes concurrently (as in Linux, the copy may then mix
    // old and new bytes); they are never freed while the program runs.
    unsafe { slice::from_raw_parts(ptr as *const u8, len) }
}

/// # Safety
/// `ptr` covers `len` writable bytes (verifier: `Arg::WriteMem`).
#[inline(always)]
unsafe fn bytes_mut<'a>(ptr: u64, len: usize) -> &'a mut [u8] {
    // SAFETY: per the function's contract: the program's stack or a map
    // value, not aliased by any Rust reference during the call.
    unsafe { slice::from_raw_parts_mut(ptr as *mut u8, len) }
}

/// `map_lookup_elem(map, key)`: pointer to the value, or 0.
///
/// # Safety
/// Called by verified programs only: `m` is a map handle, `key` covers the
/// map's key size.
pub unsafe extern "C" fn map_lookup_elem(m: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    // SAFETY: see the function's contract.
    let m = unsafe { map(m) };
    // SAFETY: `key` covers `key_size` bytes.
    let key = unsafe { bytes(key, m.def().key_size as usize) };
    m.lookup(key, cpu()) as u64
}

/// `map_update_elem(map, key, value, flags)`: 0 or a negated errno.
///
/// # Safety
/// As [`map_lookup_elem`]; `value` covers the map's value size.
pub unsafe extern "C" fn map_update_elem(m: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    // SAFETY: see the function's contract.
    let m = unsafe { map(m) };
    // SAFETY: `key` and `value` cover the map's key and value sizes.
    let (key, value) = unsafe {
        (
            bytes(key, m.def().key_size as usize),
            bytes(value, m.def().value_size as usize),
        )
    };
    m.update(key, value, flags, cpu())
}

/// `map_delete_elem(map, key)`: 0 or a negated errno.
///
/// # Safety
/// As [`map_lookup_elem`].
pub unsafe extern "C" fn map_delete_elem(m: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    // SAFETY: see the function's contract.
    let m = unsafe { map(m) };
    // SAFETY: `key` covers `key_size` bytes.
    m.delete(unsafe { bytes(key, m.def().key_size as usize) })
}

/// `ktime_get_ns()`: nanoseconds since boot.
///
/// # Safety
/// None needed; `unsafe` only to match [`HelperFn`].
pub unsafe extern "C" fn ktime_get_ns(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    platform().map_or(0, |p| p.now_ns())
}

/// `get_smp_processor_id()`: the CPU index.
///
/// # Safety
/// None needed; `unsafe` only to match [`HelperFn`].
pub unsafe extern "C" fn get_smp_processor_id(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    cpu() as u64
}

/// `get_current_pid_tgid()`: task id << 32 | thread id, from the event's
/// header (so it agrees with what the hook site reported).
///
/// # Safety
/// Called from a program run by `fire` (the current event is set).
pub unsafe extern "C" fn get_current_pid_tgid(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let (ctx, _) = current_event(cpu());
    if ctx.is_null() {
        return 0;
    }
    // SAFETY: every context starts with an `EventHeader`, and the fire path
    // keeps the context alive while programs run; it may be unaligned.
    let h = unsafe { (ctx as *const EventHeader).read_unaligned() };
    (h.task as u64) << 32 | h.thread as u64
}

/// `get_current_comm(buf, size)`: the task name, NUL-terminated and
/// zero-padded.
///
/// # Safety
/// `buf` covers `size` writable bytes.
pub unsafe extern "C" fn get_current_comm(buf: u64, size: u64, _: u64, _: u64, _: u64) -> u64 {
    if size == 0 || size > MAX_MEM {
        return err(errno::EINVAL);
    }
    // SAFETY: see the function's contract.
    let out = unsafe { bytes_mut(buf, size as usize) };
    out.fill(0);
    let Some(p) = platform() else {
        return err(errno::EINVAL);
    };
    let mut comm = [0u8; COMM_LEN];
    p.comm(&mut comm);
    let len = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    // At most 15 name bytes and always a NUL, as Linux's TASK_COMM_LEN.
    let n = len.min(COMM_LEN - 1).min(out.len() - 1);
    out[..n].copy_from_slice(&comm[..n]);
    0
}

/// `get_stackid(ctx, map, flags)`: walk the kernel stack (or with
/// `BPF_F_USER_STACK` the user stack), store it, return its id.
///
/// # Safety
/// `m` is a stack-trace map handle.
pub unsafe extern "C" fn get_stackid(_ctx: u64, m: u64, flags: u64, _: u64, _: u64) -> u64 {
    const KNOWN: u64 = stack_flags::SKIP_MASK
        | stack_flags::USER_STACK
        | stack_flags::FAST_STACK_CMP
        | stack_flags::REUSE_STACKID;
    // SAFETY: see the function's contract.
    let m = unsafe { map(m) };
    if flags & !KNOWN != 0 {
        return err(errno::EINVAL);
    }
    let (Some(p), cpu) = (platform(), cpu()) else {
        return err(errno::EINVAL);
    };
    let mut frames = [0u64; WALK_FRAMES];
    let n = if flags & stack_flags::USER_STACK != 0 {
        p.walk_user_stack(&mut frames)
    } else {
        p.walk_kernel_stack(current_event(cpu).1, &mut frames)
    };
    let skip = (flags & stack_flags::SKIP_MASK) as usize;
    let ips = frames.get(skip..n.min(WALK_FRAMES)).unwrap_or(&[]);
    m.stack_id(&ips[..ips.len().min(m.stack_depth())], flags)
}

/// `probe_read_user(dst, size, src)`: fault-safe copy from user memory;
/// on failure `dst` is zeroed and `-EFAULT` returned.
///
/// # Safety
/// `dst` covers `size` writable bytes.
pub unsafe extern "C" fn probe_read_user(dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    if size == 0 || size > MAX_MEM {
        return err(errno::EINVAL);
    }
    // SAFETY: see the function's contract.
    let out = unsafe { bytes_mut(dst, size as usize) };
    let ok = user_range(src, size) && platform().is_some_and(|p| p.read_user(src, out).is_ok());
    if ok {
        0
    } else {
        out.fill(0);
        err(errno::EFAULT)
    }
}

/// Whether `[src, src + size)` is canonical and entirely in the user half.
/// Non-canonical addresses raise #GP, not #PF, which a kernel's user-copy
/// exception table may not cover, so they never reach the platform.
fn user_range(src: u64, size: u64) -> bool {
    x86_64::VirtAddr::try_new(src).is_ok()
        && src.checked_add(size).is_some_and(|end| end <= USER_END)
}

/// `probe_read_kernel(dst, size, src)`: copy from kernel memory the
/// platform declares readable; else `dst` zeroed and `-EFAULT`.
///
/// # Safety
/// `dst` covers `size` writable bytes.
pub unsafe extern "C" fn probe_read_kernel(dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    if size == 0 || size > MAX_MEM {
        return err(errno::EINVAL);
    }
    // SAFETY: see the function's contract.
    let out = unsafe { bytes_mut(dst, size as usize) };
    // Which addresses are kernel memory is the platform's to say (a
    // higher-half kernel declares only higher-half ranges).
    let readable = src.checked_add(size).is_some()
        && platform().is_some_and(|p| p.kernel_readable(src, size as usize));
    if !readable {
        out.fill(0);
        return err(errno::EFAULT);
    }
    // SAFETY: the platform vouches that the range is mapped, readable
    // kernel memory. `copy` allows overlap with `out`.
    unsafe { core::ptr::copy(src as *const u8, out.as_mut_ptr(), out.len()) };
    0
}

/// `ringbuf_output(ringbuf, data, size, flags)`: append a record; a full
/// buffer drops it (counted) and returns `-ENOSPC`.
///
/// # Safety
/// `m` is a ring-buffer handle and `data` covers `size` readable bytes.
pub unsafe extern "C" fn ringbuf_output(m: u64, data: u64, size: u64, flags: u64, _: u64) -> u64 {
    // BPF_RB_NO_WAKEUP and BPF_RB_FORCE_WAKEUP: the host polls, so both
    // are accepted and mean nothing here.
    if flags > 3 || size > MAX_MEM {
        return err(errno::EINVAL);
    }
    // SAFETY: see the function's contract.
    let m = unsafe { map(m) };
    // SAFETY: `data` covers `size` bytes.
    m.output(unsafe { bytes(data, size as usize) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_abi_helper_is_implemented() {
        for h in crate::abi::helpers::HELPERS {
            assert!(helper(h.id).is_some(), "{} has no implementation", h.name);
        }
        assert!(HELPERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(helper(HelperId(4)).is_none());
    }

    #[test]
    fn user_ranges_must_be_canonical_and_below_the_kernel() {
        assert!(user_range(0x1000, 8));
        assert!(!user_range(USER_END - 4, 8));
        assert!(!user_range(0xffff_8000_0000_0000, 8));
        assert!(!user_range(0x0000_9000_0000_0000, 8));
        assert!(!user_range(u64::MAX - 2, 8));
    }
}
