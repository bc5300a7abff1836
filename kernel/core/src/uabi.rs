//! The kernel/user binary interface beyond the probe ABI.
//!
//! The probe ABI (`capscope_bytecode::abi::consts`) fixes syscall numbers,
//! kinds, rights, flags and error codes. This module fixes the rest of what
//! the kernel and the user runtime must agree on: register layout, the fault
//! frame a user fault handler receives, `cap_info`'s record, the bootstrap
//! capabilities and the address-space layout.

/// A thread's integer registers as the kernel saves them, and as a user
/// fault handler sees and may change them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
}

/// What the kernel pushes on the fault-handler stack for an upcall; the
/// handler's first argument (`rdi`) points to it. On `fault_return(RESUME)`
/// the kernel reads `regs` back, so a handler fixes a fault by editing them
/// (for example `rip` to an exception-table fixup and `rax` to an error).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultFrame {
    /// The registers at the fault.
    pub regs: Regs,
    /// The faulting address (CR2 for a page fault, else 0).
    pub addr: u64,
    /// `FAULT_*` access bits (page faults), else 0.
    pub access: u64,
    /// The exception vector (14 for a page fault).
    pub vector: u64,
    /// The CPU's error code, if the exception has one.
    pub error_code: u64,
}

/// `fault_return` actions.
pub mod fault_action {
    /// Resume with the (possibly edited) registers of the fault frame.
    pub const RESUME: u64 = 0;
    /// Kill the thread.
    pub const KILL: u64 = 1;
}

/// The record `cap_info(slot, buf)` writes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapInfo {
    /// `KIND_*`.
    pub kind: u64,
    /// `RIGHT_*` bits.
    pub rights: u64,
    /// The object id (as in `cap:*` events).
    pub object: u64,
    /// Kind-specific: Memory size in bytes, Gate label, Factory quota left,
    /// Irq line, Task id, Thread id.
    pub detail: u64,
}

/// Capabilities every task started by the kernel finds in its space.
pub mod slots {
    /// The task itself (`RIGHT_ALL`).
    pub const TASK: u64 = 0;
    /// A factory with the task's quota.
    pub const FACTORY: u64 = 1;
    /// The task's main thread.
    pub const THREAD: u64 = 2;
    /// The first slot the kernel leaves empty.
    pub const FIRST_FREE: u64 = 3;
}

/// Largest IPC message in bytes (call, recv and reply).
pub const MSG_MAX: usize = 128;
/// Largest `print` in bytes.
pub const PRINT_MAX: usize = 4096;
/// Largest Memory object in bytes.
pub const MEMORY_MAX: u64 = 64 << 20;
/// Page size.
pub const PAGE_SIZE: u64 = 4096;
/// Where workloads are linked.
pub const USER_IMAGE_BASE: u64 = 0x40_0000;
/// First address above the user half (exclusive bound of user pointers).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;
/// Lowest address a user mapping may use (page 0 stays unmapped).
pub const USER_BOTTOM: u64 = 0x1000;
/// Top of a task's main stack.
pub const STACK_TOP: u64 = 0x0000_7fff_f000_0000;
/// Size of a task's main stack.
pub const STACK_SIZE: u64 = 256 << 10;
/// Exit status of a task whose last thread was killed by a fault.
pub const STATUS_KILLED: u64 = 126;

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts() {
        assert_eq!(size_of::<Regs>(), 18 * 8);
        assert_eq!(size_of::<FaultFrame>(), 22 * 8);
        assert_eq!(size_of::<CapInfo>(), 32);
        const { assert!(STACK_TOP < USER_TOP && STACK_TOP.is_multiple_of(PAGE_SIZE)) };
    }
}
