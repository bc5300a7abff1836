//! The probe ABI: what a probe program may see and call.
//!
//! This module is the single source of truth shared by the language (field
//! names and types), the verifier (which context bytes are readable, helper
//! signatures), the JIT (helper numbers), the kernel (which struct to fill at
//! each hook) and the CLI (`capscope list -v`).
//!
//! - [`AttachPoint`]: where a program runs, and which context it gets.
//! - [`context`]: the `#[repr(C)]` context structs, one per attach point.
//! - [`fields`]: the per-attach-point table of readable fields.
//! - [`helpers`]: the helper table with argument and return types.
//! - [`consts`]: named constants (syscalls, object kinds, rights, outcomes).

pub mod consts;
pub mod context;
pub mod fields;
pub mod helpers;

use core::fmt;

use serde::{Deserialize, Serialize};

/// A place in the kernel where programs can be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AttachPoint {
    /// A thread entered a system call.
    SyscallEnter,
    /// A system call is about to return to its thread.
    SyscallExit,
    /// An interrupt handler starts.
    IrqEntry,
    /// An interrupt handler is done.
    IrqExit,
    /// A page fault was handled (with its outcome).
    PageFault,
    /// A capability slot became occupied.
    CapAlloc,
    /// A capability slot became empty.
    CapFree,
    /// A capability was mapped or granted into a slot.
    CapMap,
    /// A capability was unmapped, revoking what was derived from it.
    CapUnmap,
    /// A gate was invoked (IPC call).
    CapInvoke,
    /// Runs once when the object is attached.
    Begin,
    /// Runs once when the object is detached.
    End,
    /// Runs periodically from the timer; the period is in the program's
    /// [`crate::object::AttachSpec`].
    Interval,
}

impl AttachPoint {
    /// Every attach point, in a stable order (also the registry order).
    pub const ALL: [AttachPoint; 13] = [
        AttachPoint::SyscallEnter,
        AttachPoint::SyscallExit,
        AttachPoint::IrqEntry,
        AttachPoint::IrqExit,
        AttachPoint::PageFault,
        AttachPoint::CapAlloc,
        AttachPoint::CapFree,
        AttachPoint::CapMap,
        AttachPoint::CapUnmap,
        AttachPoint::CapInvoke,
        AttachPoint::Begin,
        AttachPoint::End,
        AttachPoint::Interval,
    ];

    /// Number of attach points.
    pub const COUNT: usize = Self::ALL.len();

    /// The name users write, such as `cap:alloc`.
    pub const fn name(self) -> &'static str {
        match self {
            AttachPoint::SyscallEnter => "syscall:enter",
            AttachPoint::SyscallExit => "syscall:exit",
            AttachPoint::IrqEntry => "irq:entry",
            AttachPoint::IrqExit => "irq:exit",
            AttachPoint::PageFault => "fault:page",
            AttachPoint::CapAlloc => "cap:alloc",
            AttachPoint::CapFree => "cap:free",
            AttachPoint::CapMap => "cap:map",
            AttachPoint::CapUnmap => "cap:unmap",
            AttachPoint::CapInvoke => "cap:invoke",
            AttachPoint::Begin => "BEGIN",
            AttachPoint::End => "END",
            AttachPoint::Interval => "interval",
        }
    }

    /// Look an attach point up by the name users write.
    pub fn from_name(name: &str) -> Option<AttachPoint> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Dense index, `0..COUNT`, for per-point tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// One line saying when the point fires.
    pub const fn doc(self) -> &'static str {
        match self {
            AttachPoint::SyscallEnter => "a thread entered a system call",
            AttachPoint::SyscallExit => "a system call is about to return to user mode",
            AttachPoint::IrqEntry => "an interrupt handler starts",
            AttachPoint::IrqExit => "an interrupt handler finished",
            AttachPoint::PageFault => "a page fault was handled; the outcome says how",
            AttachPoint::CapAlloc => "a capability slot became occupied",
            AttachPoint::CapFree => "a capability slot became empty",
            AttachPoint::CapMap => {
                "a capability was mapped (copied) or granted (moved) into a slot"
            }
            AttachPoint::CapUnmap => "a capability's derived mappings were revoked",
            AttachPoint::CapInvoke => "a gate was invoked with an IPC call",
            AttachPoint::Begin => "once, when the probe object is attached",
            AttachPoint::End => "once, when the probe object is detached",
            AttachPoint::Interval => "periodically, from the timer interrupt",
        }
    }

    /// Size in bytes of the context struct a program at this point receives.
    pub const fn context_size(self) -> usize {
        use context::*;
        match self {
            AttachPoint::SyscallEnter => core::mem::size_of::<SyscallEnterCtx>(),
            AttachPoint::SyscallExit => core::mem::size_of::<SyscallExitCtx>(),
            AttachPoint::IrqEntry | AttachPoint::IrqExit => core::mem::size_of::<IrqCtx>(),
            AttachPoint::PageFault => core::mem::size_of::<PageFaultCtx>(),
            AttachPoint::CapAlloc | AttachPoint::CapFree => core::mem::size_of::<CapSlotCtx>(),
            AttachPoint::CapMap => core::mem::size_of::<CapMapCtx>(),
            AttachPoint::CapUnmap => core::mem::size_of::<CapUnmapCtx>(),
            AttachPoint::CapInvoke => core::mem::size_of::<CapInvokeCtx>(),
            AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval => {
                core::mem::size_of::<EventHeader>()
            }
        }
    }

    /// The readable fields of this point's context, in offset order.
    pub fn fields(self) -> &'static [fields::Field] {
        fields::of(self)
    }
}

impl fmt::Display for AttachPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
