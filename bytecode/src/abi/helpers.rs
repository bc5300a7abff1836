//! The helper table: every function a program may `call`, with its types.
//!
//! Numbers below 1000 are Linux's and mean the same thing, so programs built
//! for Linux, rbpf or uBPF keep their meaning. capscope's own helpers start at
//! 1000. The verifier checks calls against [`Arg`] and [`Ret`]; the JIT and the
//! kernel look helpers up by [`HelperId`]; nothing else defines them.
//!
//! Helpers use the eBPF calling convention: arguments in r1-r5, result in r0,
//! r1-r5 clobbered. As native functions they are
//! `extern "C" fn(u64, u64, u64, u64, u64) -> u64` (see [`HelperFn`]).

use crate::insn::HelperId;
use crate::object::MapKind;

/// The native signature every helper implementation has.
pub type HelperFn = unsafe extern "C" fn(u64, u64, u64, u64, u64) -> u64;

/// What a helper argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An initialized scalar. Never a pointer: a helper argument is a way out
    /// of the program, and kernel addresses must not leave (verifier rule 7).
    Scalar,
    /// A map pointer (`lddw rX, map[N]`) whose map is one of these kinds.
    Map(&'static [MapKind]),
    /// A pointer to `key_size` initialized, pointer-free bytes of stack or map
    /// value, where `key_size` is that of the map in the preceding `Map` argument.
    MapKey,
    /// A pointer to `value_size` initialized, pointer-free bytes (same map).
    MapValue,
    /// The context pointer the program received in r1.
    Ctx,
    /// A pointer to initialized, pointer-free bytes the helper reads (and may
    /// export); their count is the next argument, which is [`Arg::Size`].
    ReadMem,
    /// A pointer to stack or map-value bytes the helper writes; they count as
    /// initialized afterwards. Their count is the next argument, [`Arg::Size`].
    WriteMem,
    /// The byte count for the preceding memory argument: a scalar the verifier
    /// can bound, at least 1 and no larger than the memory.
    Size,
}

/// What a helper returns in r0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// A scalar (for most helpers: 0 or a negative error code).
    Scalar,
    /// A pointer to a value of the map in argument 1, or 0 (null) if absent.
    /// Must be null-checked before use.
    MapValueOrNull,
}

/// One helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Helper {
    /// Its number.
    pub id: HelperId,
    /// Its name, as in Linux where it comes from Linux.
    pub name: &'static str,
    /// Argument types for r1, r2, ... (unlisted registers are not read).
    pub args: &'static [Arg],
    /// Result type.
    pub ret: Ret,
    /// One line of documentation.
    pub doc: &'static str,
}

/// Numbers of the helpers, for code that emits or implements calls.
pub mod id {
    use crate::insn::HelperId;
    /// `map_lookup_elem(map, key) -> value or null`
    pub const MAP_LOOKUP_ELEM: HelperId = HelperId(1);
    /// `map_update_elem(map, key, value, flags) -> 0 or -errno`
    pub const MAP_UPDATE_ELEM: HelperId = HelperId(2);
    /// `map_delete_elem(map, key) -> 0 or -errno`
    pub const MAP_DELETE_ELEM: HelperId = HelperId(3);
    /// `ktime_get_ns() -> ns since boot`
    pub const KTIME_GET_NS: HelperId = HelperId(5);
    /// `get_smp_processor_id() -> cpu`
    pub const GET_SMP_PROCESSOR_ID: HelperId = HelperId(8);
    /// `get_current_pid_tgid() -> task << 32 | thread`
    pub const GET_CURRENT_PID_TGID: HelperId = HelperId(14);
    /// `get_current_comm(buf, size) -> 0 or -errno`
    pub const GET_CURRENT_COMM: HelperId = HelperId(16);
    /// `get_stackid(ctx, map, flags) -> stack id or -errno`
    pub const GET_STACKID: HelperId = HelperId(27);
    /// `probe_read_user(dst, size, user_ptr) -> 0 or -errno`
    pub const PROBE_READ_USER: HelperId = HelperId(112);
    /// `probe_read_kernel(dst, size, kernel_ptr) -> 0 or -errno`
    pub const PROBE_READ_KERNEL: HelperId = HelperId(113);
    /// `ringbuf_output(ringbuf, data, size, flags) -> 0 or -errno`
    pub const RINGBUF_OUTPUT: HelperId = HelperId(130);
}

/// Flags for `map_update_elem`, as in Linux.
pub mod update_flags {
    /// Create or replace.
    pub const ANY: u64 = 0;
    /// Create only: fail with `-EEXIST` if the key exists.
    pub const NOEXIST: u64 = 1;
    /// Replace only: fail with `-ENOENT` if the key is absent.
    pub const EXIST: u64 = 2;
}

/// Flags for `get_stackid`, as in Linux.
pub mod stack_flags {
    /// Mask of the number of frames to skip.
    pub const SKIP_MASK: u64 = 0xff;
    /// Walk the user stack instead of the kernel stack.
    pub const USER_STACK: u64 = 1 << 8;
    /// Compare only the hash: two stacks with one hash share an id.
    pub const FAST_STACK_CMP: u64 = 1 << 9;
    /// When every probed id is taken, replace the stack at the home id.
    pub const REUSE_STACKID: u64 = 1 << 10;
}

/// How many ids, from a stack's home id (its hash modulo the map's size)
/// on, `get_stackid` tries before the stack is a collision. Linux tries
/// one; eight keep a few distinct stacks from ever colliding.
pub const STACK_ID_PROBES: u32 = 8;

const HASHLIKE_AND_ARRAYS: &[MapKind] = &[
    MapKind::Hash,
    MapKind::Array,
    MapKind::PerCpuHash,
    MapKind::PerCpuArray,
    MapKind::LruHash,
];

/// Every helper, sorted by number.
pub static HELPERS: &[Helper] = &[
    Helper {
        id: id::MAP_LOOKUP_ELEM,
        name: "map_lookup_elem",
        args: &[Arg::Map(HASHLIKE_AND_ARRAYS), Arg::MapKey],
        ret: Ret::MapValueOrNull,
        doc: "pointer to the value stored under key (this CPU's copy for per-CPU maps), or null",
    },
    Helper {
        id: id::MAP_UPDATE_ELEM,
        name: "map_update_elem",
        args: &[
            Arg::Map(HASHLIKE_AND_ARRAYS),
            Arg::MapKey,
            Arg::MapValue,
            Arg::Scalar,
        ],
        ret: Ret::Scalar,
        doc: "store value under key; flags ANY/NOEXIST/EXIST; -E2BIG (counted as a drop) when full",
    },
    Helper {
        id: id::MAP_DELETE_ELEM,
        name: "map_delete_elem",
        args: &[Arg::Map(HASHLIKE_AND_ARRAYS), Arg::MapKey],
        ret: Ret::Scalar,
        doc: "remove key; -ENOENT if absent (arrays cannot delete: -EINVAL)",
    },
    Helper {
        id: id::KTIME_GET_NS,
        name: "ktime_get_ns",
        args: &[],
        ret: Ret::Scalar,
        doc: "nanoseconds since boot",
    },
    Helper {
        id: id::GET_SMP_PROCESSOR_ID,
        name: "get_smp_processor_id",
        args: &[],
        ret: Ret::Scalar,
        doc: "the current CPU number",
    },
    Helper {
        id: id::GET_CURRENT_PID_TGID,
        name: "get_current_pid_tgid",
        args: &[],
        ret: Ret::Scalar,
        doc: "current task id in the high 32 bits, thread id in the low 32 bits",
    },
    Helper {
        id: id::GET_CURRENT_COMM,
        name: "get_current_comm",
        args: &[Arg::WriteMem, Arg::Size],
        ret: Ret::Scalar,
        doc: "copy the current task's name, NUL-padded, into buf",
    },
    Helper {
        id: id::GET_STACKID,
        name: "get_stackid",
        args: &[Arg::Ctx, Arg::Map(&[MapKind::StackTrace]), Arg::Scalar],
        ret: Ret::Scalar,
        doc: "walk the kernel (or, with USER_STACK, user) stack into the stack map; returns its id",
    },
    Helper {
        id: id::PROBE_READ_USER,
        name: "probe_read_user",
        args: &[Arg::WriteMem, Arg::Size, Arg::Scalar],
        ret: Ret::Scalar,
        doc: "fault-safe copy from a user address; on failure dst is zeroed and -EFAULT returned",
    },
    Helper {
        id: id::PROBE_READ_KERNEL,
        name: "probe_read_kernel",
        args: &[Arg::WriteMem, Arg::Size, Arg::Scalar],
        ret: Ret::Scalar,
        doc: "copy from a kernel range the kernel declares readable; else dst zeroed, -EFAULT",
    },
    Helper {
        id: id::RINGBUF_OUTPUT,
        name: "ringbuf_output",
        args: &[
            Arg::Map(&[MapKind::RingBuf]),
            Arg::ReadMem,
            Arg::Size,
            Arg::Scalar,
        ],
        ret: Ret::Scalar,
        doc: "append a record to the ring buffer; -ENOSPC (counted as a drop) when full",
    },
];

/// Look a helper up by number.
pub fn find(id: HelperId) -> Option<&'static Helper> {
    HELPERS
        .binary_search_by_key(&id, |h| h.id)
        .ok()
        .map(|i| &HELPERS[i])
}

/// Look a helper up by name.
pub fn by_name(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_well_formed() {
        assert!(HELPERS.windows(2).all(|w| w[0].id < w[1].id));
        for h in HELPERS {
            assert!(h.args.len() <= 5, "{}", h.name);
            for (i, a) in h.args.iter().enumerate() {
                let next = h.args.get(i + 1);
                match a {
                    Arg::ReadMem | Arg::WriteMem => {
                        assert_eq!(next, Some(&Arg::Size), "{}", h.name)
                    }
                    Arg::MapKey | Arg::MapValue => {
                        assert!(matches!(h.args[0], Arg::Map(_)), "{}", h.name)
                    }
                    _ => {}
                }
            }
            if h.ret == Ret::MapValueOrNull {
                assert!(matches!(h.args[0], Arg::Map(_)));
            }
        }
        assert_eq!(find(HelperId(130)).unwrap().name, "ringbuf_output");
        assert!(find(HelperId(4)).is_none());
    }
}
