//! The context structs: what `r1` points to when a program starts.
//!
//! Each is `#[repr(C)]`, read-only for the program, and starts with
//! [`EventHeader`]. Layouts are part of the ABI: the kernel fills them, the
//! verifier checks reads against [`super::fields`], and the tests at the
//! bottom of this file pin every offset so a layout change cannot go
//! unnoticed. Padding fields are named `_reserved*`, are always zero, and are
//! not readable (they are not in the field table).
//!
//! `zerocopy`'s `IntoBytes` derive proves at compile time that no struct has
//! implicit padding, so viewing a context as bytes needs no `unsafe` here.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The header every context starts with.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct EventHeader {
    /// When the event happened, in nanoseconds since boot (offset 0).
    pub timestamp_ns: u64,
    /// The CPU the event happened on.
    pub cpu: u32,
    /// The current task's id (0 when the event happened in the idle loop).
    pub task: u32,
    /// The current thread's id (0 when the event happened in the idle loop).
    pub thread: u32,
    /// Always zero.
    pub _reserved: u32,
}

/// `syscall:enter`
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct SyscallEnterCtx {
    /// Common header.
    pub header: EventHeader,
    /// The system call number (see [`super::consts::SYSCALLS`]).
    pub nr: u64,
    /// First argument register.
    pub arg0: u64,
    /// Second argument register.
    pub arg1: u64,
    /// Third argument register.
    pub arg2: u64,
    /// Fourth argument register.
    pub arg3: u64,
    /// Fifth argument register.
    pub arg4: u64,
    /// Sixth argument register.
    pub arg5: u64,
}

/// `syscall:exit`
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct SyscallExitCtx {
    /// Common header.
    pub header: EventHeader,
    /// The system call number.
    pub nr: u64,
    /// The value returned to user mode: non-negative on success, a negated
    /// error code (see [`super::consts`] `E*`) on failure.
    pub ret: i64,
}

/// `irq:entry` and `irq:exit`
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct IrqCtx {
    /// Common header.
    pub header: EventHeader,
    /// The interrupt vector (32 and up).
    pub vector: u32,
    /// 1 if the interrupt arrived while user code ran, 0 if in the idle loop.
    pub from_user: u32,
}

/// `fault:page`
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct PageFaultCtx {
    /// Common header.
    pub header: EventHeader,
    /// The faulting address (CR2).
    pub addr: u64,
    /// The faulting instruction.
    pub rip: u64,
    /// `FAULT_*` access bits: read, write, exec, user, present.
    pub access: u32,
    /// `FAULT_RESOLVED`, `FAULT_REFLECTED` or `FAULT_FATAL`.
    pub outcome: u32,
}

/// `cap:alloc` and `cap:free`
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct CapSlotCtx {
    /// Common header.
    pub header: EventHeader,
    /// The task whose capability space holds the slot. Usually the current
    /// task, but a map into another task allocates in *that* task.
    pub owner: u32,
    /// The slot index.
    pub slot: u32,
    /// `KIND_*` of the referenced object.
    pub kind: u32,
    /// `RIGHT_*` bits of the capability.
    pub rights: u32,
    /// The referenced object's id.
    pub object: u64,
    /// For `cap:free`, why the slot emptied (`FREE_*`); 0 for `cap:alloc`.
    pub reason: u32,
    /// Always zero.
    pub _reserved: u32,
}

/// `cap:map`: a capability copied (map) or moved (grant) into a slot.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct CapMapCtx {
    /// Common header.
    pub header: EventHeader,
    /// Task whose space holds the source capability.
    pub src_task: u32,
    /// Source slot.
    pub src_slot: u32,
    /// Task whose space receives the capability.
    pub dst_task: u32,
    /// Destination slot.
    pub dst_slot: u32,
    /// `KIND_*` of the object.
    pub kind: u32,
    /// Rights of the new capability (a subset of the source's).
    pub rights: u32,
    /// Rights of the source capability.
    pub src_rights: u32,
    /// 1 when the destination slot was occupied and got replaced: an overmap.
    pub overmap: u32,
    /// 1 for a grant (the source slot is emptied), 0 for a map (copy).
    pub grant: u32,
    /// Always zero.
    pub _reserved: u32,
    /// The object's id.
    pub object: u64,
    /// The id of the object the destination slot held before (0 if empty).
    pub replaced_object: u64,
}

/// `cap:unmap`: revocation of everything derived from a capability.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct CapUnmapCtx {
    /// Common header.
    pub header: EventHeader,
    /// Task whose space holds the capability being unmapped.
    pub task: u32,
    /// Its slot.
    pub slot: u32,
    /// `KIND_*` of the object.
    pub kind: u32,
    /// Rights of the capability.
    pub rights: u32,
    /// The object's id.
    pub object: u64,
    /// How many derived capabilities were revoked.
    pub revoked: u32,
    /// Always zero.
    pub _reserved: u32,
}

/// `cap:invoke`: an IPC call on a gate.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout,
)]
pub struct CapInvokeCtx {
    /// Common header.
    pub header: EventHeader,
    /// The caller's slot holding the gate capability.
    pub slot: u32,
    /// The task serving the gate (0 if none is bound).
    pub server_task: u32,
    /// The gate object's id.
    pub object: u64,
    /// The protocol label the caller used.
    pub label: u64,
    /// The protocol label the gate expects.
    pub expected: u64,
    /// 0 on success, else the positive `E*` error code the call failed with
    /// (`EPROTO` for a label mismatch).
    pub error: u32,
    /// Always zero.
    pub _reserved: u32,
}

/// Every context is smaller than this; the ABI guarantees it.
pub const MAX_CONTEXT_SIZE: usize = 4096;

/// A context struct: plain bytes that programs at [`Context::POINTS`] read.
pub trait Context: IntoBytes + Immutable + Copy {
    /// The attach points that receive this context.
    const POINTS: &'static [super::AttachPoint];
}

macro_rules! impl_context {
    ($ty:ty, [$($p:ident),*]) => {
        impl Context for $ty {
            const POINTS: &'static [super::AttachPoint] = &[$(super::AttachPoint::$p),*];
        }
    };
}

impl_context!(EventHeader, [Begin, End, Interval]);
impl_context!(SyscallEnterCtx, [SyscallEnter]);
impl_context!(SyscallExitCtx, [SyscallExit]);
impl_context!(IrqCtx, [IrqEntry, IrqExit]);
impl_context!(PageFaultCtx, [PageFault]);
impl_context!(CapSlotCtx, [CapAlloc, CapFree]);
impl_context!(CapMapCtx, [CapMap]);
impl_context!(CapUnmapCtx, [CapUnmap]);
impl_context!(CapInvokeCtx, [CapInvoke]);

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn header_layout_is_the_abi() {
        assert_eq!(offset_of!(EventHeader, timestamp_ns), 0);
        assert_eq!(offset_of!(EventHeader, cpu), 8);
        assert_eq!(offset_of!(EventHeader, task), 12);
        assert_eq!(offset_of!(EventHeader, thread), 16);
        assert_eq!(size_of::<EventHeader>(), 24);
    }

    #[test]
    fn payload_layouts_are_the_abi() {
        assert_eq!(offset_of!(SyscallEnterCtx, nr), 24);
        assert_eq!(offset_of!(SyscallEnterCtx, arg0), 32);
        assert_eq!(offset_of!(SyscallEnterCtx, arg5), 72);
        assert_eq!(size_of::<SyscallEnterCtx>(), 80);
        assert_eq!(offset_of!(SyscallExitCtx, ret), 32);
        assert_eq!(size_of::<SyscallExitCtx>(), 40);
        assert_eq!(size_of::<IrqCtx>(), 32);
        assert_eq!(offset_of!(PageFaultCtx, outcome), 44);
        assert_eq!(size_of::<PageFaultCtx>(), 48);
        assert_eq!(offset_of!(CapSlotCtx, object), 40);
        assert_eq!(size_of::<CapSlotCtx>(), 56);
        assert_eq!(offset_of!(CapMapCtx, object), 64);
        assert_eq!(size_of::<CapMapCtx>(), 80);
        assert_eq!(offset_of!(CapUnmapCtx, object), 40);
        assert_eq!(size_of::<CapUnmapCtx>(), 56);
        assert_eq!(offset_of!(CapInvokeCtx, expected), 48);
        assert_eq!(size_of::<CapInvokeCtx>(), 64);
    }

    #[test]
    fn as_bytes_sees_the_fields() {
        let ctx = IrqCtx {
            header: EventHeader {
                timestamp_ns: 0x0102,
                ..Default::default()
            },
            vector: 33,
            from_user: 1,
        };
        let b = ctx.as_bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(&b[0..2], &[0x02, 0x01]);
        assert_eq!(b[24], 33);
        assert_eq!(b[28], 1);
    }
}
