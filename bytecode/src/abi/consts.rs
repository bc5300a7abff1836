//! Named constants: syscall numbers, object kinds, rights, fault bits and
//! outcomes, free reasons and error codes.
//!
//! The kernel implements exactly these values, and the language offers every
//! entry of [`NAMED`] as an identifier, so nobody writes magic numbers.

/// A system call of the reference kernel: its number, name and arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The number in `rax`.
    pub nr: u64,
    /// The name (`syscall:enter:NAME` filters on it; `SYS_NAME` is its constant).
    pub name: &'static str,
    /// The arguments, comma separated, for documentation.
    pub args: &'static str,
    /// One line of documentation.
    pub doc: &'static str,
}

macro_rules! syscalls {
    ($($nr:literal $name:ident $cname:ident ($args:literal) $doc:literal;)*) => {
        /// Syscall numbers.
        pub mod sys {
            $(
                #[doc = $doc]
                pub const $cname: u64 = $nr;
            )*
        }
        /// Every system call, by number.
        pub static SYSCALLS: &[Syscall] = &[
            $(Syscall { nr: $nr, name: stringify!($name), args: $args, doc: $doc },)*
        ];
        /// `SYS_<NAME>` constants for the language.
        static SYSCALL_NAMES: &[(&str, u64)] = &[
            $((concat!("SYS_", stringify!($cname)), $nr),)*
        ];
    };
}

syscalls! {
    0  null         NULL        ("")                                         "does nothing; measures the syscall path";
    1  print        PRINT       ("buf, len")                                 "write bytes to the console";
    2  exit         EXIT        ("status")                                   "end the calling task with a status";
    3  yield_cpu    YIELD_CPU   ("")                                         "give up the CPU";
    4  sleep        SLEEP       ("ns")                                       "block for at least ns nanoseconds";
    5  clock        CLOCK       ("")                                         "nanoseconds since boot";
    6  create       CREATE      ("factory_slot, kind, dst_slot, arg")        "create an object into an empty slot";
    7  delete       DELETE      ("slot")                                     "empty a slot, dropping its reference";
    8  map          MAP         ("src_slot, dst_task_slot, dst_slot, rights, flags")  "copy (or with MAP_GRANT move) a capability";
    9  unmap        UNMAP       ("slot, flags")                              "revoke everything derived from a capability";
    10 call         CALL        ("gate_slot, label, msg, len")               "synchronous IPC call on a gate";
    11 recv         RECV        ("gate_slot, buf, len")                      "wait for a call on a gate";
    12 reply        REPLY       ("msg, len")                                 "answer the last received call";
    13 attach       ATTACH      ("mem_slot, vaddr, rights")                  "map a Memory object into the address space";
    14 detach       DETACH      ("vaddr")                                    "remove a Memory mapping from the address space";
    15 thread_start THREAD_START ("thread_slot, entry, stack, arg")          "start a thread created by a factory";
    16 fault_handler FAULT_HANDLER ("entry, stack")                          "register the thread's user-level fault handler";
    17 fault_return FAULT_RETURN ("action")                                  "leave a fault upcall: resume, or die";
    18 cap_info     CAP_INFO    ("slot, buf")                                "describe a slot's capability";
    19 irq_wait     IRQ_WAIT    ("irq_slot")                                 "block until the interrupt fires";
    20 task_start   TASK_START  ("task_slot, entry, stack, arg")             "start a task created by a factory";
    21 wait_task    WAIT_TASK   ("task_slot")                                "wait for a task to exit; returns its status";
}

/// Look a syscall up by name.
pub fn syscall_by_name(name: &str) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// Look a syscall up by number.
pub fn syscall_by_nr(nr: u64) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|s| s.nr == nr)
}

/// Object kinds (`KIND_*`).
pub mod kind {
    /// An address space with a capability space.
    pub const TASK: u64 = 1;
    /// A thread of execution.
    pub const THREAD: u64 = 2;
    /// A dataspace of pages.
    pub const MEMORY: u64 = 3;
    /// An IPC endpoint with a protocol label.
    pub const GATE: u64 = 4;
    /// An interrupt line.
    pub const IRQ: u64 = 5;
    /// Creates objects within a quota.
    pub const FACTORY: u64 = 6;
}

/// Capability rights bits (`RIGHT_*`).
pub mod rights {
    /// Read memory; receive on a gate.
    pub const READ: u64 = 1;
    /// Write memory.
    pub const WRITE: u64 = 2;
    /// Execute memory.
    pub const EXEC: u64 = 4;
    /// Invoke a gate, start a thread, wait on an IRQ, create from a factory.
    pub const INVOKE: u64 = 8;
    /// Map or grant the capability onwards.
    pub const MAP: u64 = 16;
    /// All rights.
    pub const ALL: u64 = 31;
}

/// Flags of the `map` syscall (`MAP_*`).
pub mod map_flags {
    /// Move instead of copy: the source slot is emptied.
    pub const GRANT: u64 = 1;
    /// Fail with `EBUSY` instead of replacing an occupied destination.
    pub const NO_OVERMAP: u64 = 2;
}

/// Flags of the `unmap` syscall (`UNMAP_*`).
pub mod unmap_flags {
    /// Also empty the slot itself, not only what was derived from it.
    pub const SELF: u64 = 1;
}

/// Page-fault access bits and outcomes (`FAULT_*`).
pub mod fault {
    /// The access was a read.
    pub const READ: u64 = 1;
    /// The access was a write.
    pub const WRITE: u64 = 2;
    /// The access was an instruction fetch.
    pub const EXEC: u64 = 4;
    /// The access came from user mode.
    pub const USER: u64 = 8;
    /// The page was present (a protection violation).
    pub const PRESENT: u64 = 16;
    /// Outcome: resolved by mapping a page of an attached Memory object.
    pub const RESOLVED: u64 = 0;
    /// Outcome: reflected to the thread's user-level fault handler.
    pub const REFLECTED: u64 = 1;
    /// Outcome: fatal; the thread was killed.
    pub const FATAL: u64 = 2;
}

/// Why a slot emptied (`FREE_*`), the `reason` of `cap:free`.
pub mod free_reason {
    /// The `delete` syscall.
    pub const DELETE: u64 = 1;
    /// Revoked by an `unmap` of what it was derived from.
    pub const REVOKE: u64 = 2;
    /// Replaced by a map onto an occupied slot (an overmap).
    pub const OVERMAP: u64 = 3;
    /// Moved out by a grant.
    pub const GRANT: u64 = 4;
    /// Its task exited and its capability space was torn down.
    pub const TEARDOWN: u64 = 5;
}

/// Error codes (`E*`). Syscalls return them negated.
pub mod errno {
    /// Operation not permitted: missing rights.
    pub const EPERM: u64 = 1;
    /// No such entry: empty slot, unknown key.
    pub const ENOENT: u64 = 2;
    /// Bad user address.
    pub const EFAULT: u64 = 14;
    /// Slot occupied (with `MAP_NO_OVERMAP` or `create`).
    pub const EBUSY: u64 = 16;
    /// Already exists.
    pub const EEXIST: u64 = 17;
    /// Invalid argument.
    pub const EINVAL: u64 = 22;
    /// No space left: quota, map or ring buffer full.
    pub const ENOSPC: u64 = 28;
    /// Out of memory.
    pub const ENOMEM: u64 = 12;
    /// Argument list too long / too big.
    pub const E2BIG: u64 = 7;
    /// No such system call.
    pub const ENOSYS: u64 = 38;
    /// Protocol error: gate label mismatch.
    pub const EPROTO: u64 = 71;
    /// Wrong object kind for the operation.
    pub const EBADF: u64 = 9;
    /// Slot index out of range.
    pub const ERANGE: u64 = 34;
    /// Nobody serves the gate.
    pub const ENOTCONN: u64 = 107;
}

/// Every named constant the language offers, with its value.
pub fn named() -> impl Iterator<Item = (&'static str, u64)> {
    NAMED.iter().chain(SYSCALL_NAMES).copied()
}

static NAMED: &[(&str, u64)] = &[
    ("KIND_TASK", kind::TASK),
    ("KIND_THREAD", kind::THREAD),
    ("KIND_MEMORY", kind::MEMORY),
    ("KIND_GATE", kind::GATE),
    ("KIND_IRQ", kind::IRQ),
    ("KIND_FACTORY", kind::FACTORY),
    ("RIGHT_READ", rights::READ),
    ("RIGHT_WRITE", rights::WRITE),
    ("RIGHT_EXEC", rights::EXEC),
    ("RIGHT_INVOKE", rights::INVOKE),
    ("RIGHT_MAP", rights::MAP),
    ("RIGHT_ALL", rights::ALL),
    ("MAP_GRANT", map_flags::GRANT),
    ("MAP_NO_OVERMAP", map_flags::NO_OVERMAP),
    ("UNMAP_SELF", unmap_flags::SELF),
    ("FAULT_READ", fault::READ),
    ("FAULT_WRITE", fault::WRITE),
    ("FAULT_EXEC", fault::EXEC),
    ("FAULT_USER", fault::USER),
    ("FAULT_PRESENT", fault::PRESENT),
    ("FAULT_RESOLVED", fault::RESOLVED),
    ("FAULT_REFLECTED", fault::REFLECTED),
    ("FAULT_FATAL", fault::FATAL),
    ("FREE_DELETE", free_reason::DELETE),
    ("FREE_REVOKE", free_reason::REVOKE),
    ("FREE_OVERMAP", free_reason::OVERMAP),
    ("FREE_GRANT", free_reason::GRANT),
    ("FREE_TEARDOWN", free_reason::TEARDOWN),
    ("EPERM", errno::EPERM),
    ("ENOENT", errno::ENOENT),
    ("E2BIG", errno::E2BIG),
    ("EBADF", errno::EBADF),
    ("ENOMEM", errno::ENOMEM),
    ("EFAULT", errno::EFAULT),
    ("EBUSY", errno::EBUSY),
    ("EEXIST", errno::EEXIST),
    ("EINVAL", errno::EINVAL),
    ("ENOSPC", errno::ENOSPC),
    ("ERANGE", errno::ERANGE),
    ("ENOSYS", errno::ENOSYS),
    ("EPROTO", errno::EPROTO),
    ("ENOTCONN", errno::ENOTCONN),
];

/// Look a named constant up.
pub fn lookup(name: &str) -> Option<u64> {
    named().find(|(n, _)| *n == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_table_is_dense_and_named_consistently() {
        for (i, s) in SYSCALLS.iter().enumerate() {
            assert_eq!(s.nr, i as u64);
            let cname = alloc::format!("SYS_{}", s.name.to_ascii_uppercase());
            assert_eq!(lookup(&cname), Some(s.nr), "{cname}");
        }
        assert_eq!(lookup("SYS_MAP"), Some(sys::MAP));
        assert_eq!(syscall_by_name("call").unwrap().nr, sys::CALL);
    }

    #[test]
    fn names_are_unique() {
        let all: alloc::vec::Vec<_> = named().map(|(n, _)| n).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a} twice");
        }
    }
}
