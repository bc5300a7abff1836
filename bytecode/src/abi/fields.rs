//! The readable fields of each attach point's context.
//!
//! A program may read a context only at exactly these offsets and sizes (the
//! verifier's rule 4). The language resolves `args.NAME` and the builtins
//! through the same table, and `capscope list -v` prints it. Offsets are
//! computed with `offset_of!` from the structs in [`super::context`], so the
//! table cannot drift from the layout.

use core::mem::offset_of;

use super::AttachPoint;
use super::context::*;

/// How a field's bytes are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Unsigned 32-bit.
    U32,
    /// Unsigned 64-bit.
    U64,
    /// Signed 64-bit.
    I64,
    /// A `u32` that is 0 or 1.
    Bool,
}

impl FieldType {
    /// Size in bytes.
    pub const fn size(self) -> usize {
        match self {
            FieldType::U32 | FieldType::Bool => 4,
            FieldType::U64 | FieldType::I64 => 8,
        }
    }

    /// The name shown in listings, as in `u32`.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::U32 => "u32",
            FieldType::U64 => "u64",
            FieldType::I64 => "i64",
            FieldType::Bool => "bool",
        }
    }
}

/// What a field's value means, so tools can print it symbolically (a syscall
/// number as its name, rights as flags) and the language can offer the right
/// named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Meaning {
    /// A plain number.
    Number,
    /// Nanoseconds since boot.
    Timestamp,
    /// A CPU number.
    Cpu,
    /// A task id.
    Task,
    /// A thread id.
    Thread,
    /// A syscall number (`SYS_*`).
    Syscall,
    /// An object kind (`KIND_*`).
    ObjectKind,
    /// An object id.
    Object,
    /// A capability slot index.
    Slot,
    /// Capability rights bits (`RIGHT_*`).
    Rights,
    /// Page-fault access bits (`FAULT_READ` ...).
    FaultAccess,
    /// A page-fault outcome (`FAULT_RESOLVED` ...).
    FaultOutcome,
    /// Why a slot was freed (`FREE_*`).
    FreeReason,
    /// A positive error code (`E*`).
    Errno,
    /// A syscall return value: negative values are negated `E*` codes.
    Return,
    /// An address in user or kernel space.
    Address,
    /// An interrupt vector.
    Vector,
    /// An IPC protocol label.
    Label,
    /// A flag.
    Flag,
}

/// One readable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Name as written after `args.` (header fields have builtins too).
    pub name: &'static str,
    /// Byte offset in the context.
    pub offset: usize,
    /// How it is read; the access size is `ty.size()`.
    pub ty: FieldType,
    /// What the value means.
    pub meaning: Meaning,
    /// One line of documentation.
    pub doc: &'static str,
    /// True for the common header fields present at every attach point.
    pub header: bool,
}

macro_rules! fields {
    ($ty:ty; $($name:literal : $($path:ident).+ , $fty:ident, $meaning:ident, $doc:literal;)*) => {
        &[
            Field { name: "timestamp_ns", offset: 0, ty: FieldType::U64, meaning: Meaning::Timestamp, doc: "event time in ns since boot (builtin `nsecs`)", header: true },
            Field { name: "cpu", offset: 8, ty: FieldType::U32, meaning: Meaning::Cpu, doc: "CPU the event happened on (builtin `cpu`)", header: true },
            Field { name: "task", offset: 12, ty: FieldType::U32, meaning: Meaning::Task, doc: "current task id (builtin `task`)", header: true },
            Field { name: "thread", offset: 16, ty: FieldType::U32, meaning: Meaning::Thread, doc: "current thread id (builtin `tid`)", header: true },
            $(Field {
                name: $name,
                offset: offset_of!($ty, $($path).+),
                ty: FieldType::$fty,
                meaning: Meaning::$meaning,
                doc: $doc,
                header: false,
            },)*
        ]
    };
}

static HEADER: &[Field] = fields!(EventHeader;);

static SYSCALL_ENTER: &[Field] = fields!(SyscallEnterCtx;
    "nr": nr, U64, Syscall, "system call number (SYS_*)";
    "arg0": arg0, U64, Number, "first argument";
    "arg1": arg1, U64, Number, "second argument";
    "arg2": arg2, U64, Number, "third argument";
    "arg3": arg3, U64, Number, "fourth argument";
    "arg4": arg4, U64, Number, "fifth argument";
    "arg5": arg5, U64, Number, "sixth argument";
);

static SYSCALL_EXIT: &[Field] = fields!(SyscallExitCtx;
    "nr": nr, U64, Syscall, "system call number (SYS_*)";
    "ret": ret, I64, Return, "return value; negative is -E* (builtin `retval`)";
);

static IRQ: &[Field] = fields!(IrqCtx;
    "vector": vector, U32, Vector, "interrupt vector";
    "from_user": from_user, Bool, Flag, "interrupted user code (else the idle loop)";
);

static PAGE_FAULT: &[Field] = fields!(PageFaultCtx;
    "addr": addr, U64, Address, "faulting address (CR2)";
    "rip": rip, U64, Address, "faulting instruction";
    "access": access, U32, FaultAccess, "FAULT_READ/WRITE/EXEC/USER/PRESENT bits";
    "outcome": outcome, U32, FaultOutcome, "FAULT_RESOLVED, FAULT_REFLECTED or FAULT_FATAL";
);

static CAP_SLOT: &[Field] = fields!(CapSlotCtx;
    "owner": owner, U32, Task, "task whose capability space holds the slot";
    "slot": slot, U32, Slot, "slot index";
    "kind": kind, U32, ObjectKind, "object kind (KIND_*)";
    "rights": rights, U32, Rights, "capability rights (RIGHT_*)";
    "object": object, U64, Object, "object id";
    "reason": reason, U32, FreeReason, "cap:free only: why the slot emptied (FREE_*)";
);

static CAP_MAP: &[Field] = fields!(CapMapCtx;
    "src_task": src_task, U32, Task, "task holding the source capability";
    "src_slot": src_slot, U32, Slot, "source slot";
    "dst_task": dst_task, U32, Task, "task receiving the capability";
    "dst_slot": dst_slot, U32, Slot, "destination slot";
    "kind": kind, U32, ObjectKind, "object kind (KIND_*)";
    "rights": rights, U32, Rights, "rights of the new capability";
    "src_rights": src_rights, U32, Rights, "rights of the source capability";
    "overmap": overmap, Bool, Flag, "the destination slot was occupied and got replaced";
    "grant": grant, Bool, Flag, "a grant (move) rather than a map (copy)";
    "object": object, U64, Object, "object id";
    "replaced_object": replaced_object, U64, Object, "object the destination held before (0 if none)";
);

static CAP_UNMAP: &[Field] = fields!(CapUnmapCtx;
    "task": task, U32, Task, "task holding the unmapped capability";
    "slot": slot, U32, Slot, "its slot";
    "kind": kind, U32, ObjectKind, "object kind (KIND_*)";
    "rights": rights, U32, Rights, "its rights";
    "object": object, U64, Object, "object id";
    "revoked": revoked, U32, Number, "number of derived capabilities revoked";
);

static CAP_INVOKE: &[Field] = fields!(CapInvokeCtx;
    "slot": slot, U32, Slot, "caller's slot holding the gate";
    "server_task": server_task, U32, Task, "task serving the gate (0 if none)";
    "object": object, U64, Object, "gate object id";
    "label": label, U64, Label, "protocol label the caller used";
    "expected": expected, U64, Label, "protocol label the gate expects";
    "error": error, U32, Errno, "0, or the E* code the call failed with (EPROTO on mismatch)";
);

/// The field table of an attach point.
pub fn of(point: AttachPoint) -> &'static [Field] {
    match point {
        AttachPoint::SyscallEnter => SYSCALL_ENTER,
        AttachPoint::SyscallExit => SYSCALL_EXIT,
        AttachPoint::IrqEntry | AttachPoint::IrqExit => IRQ,
        AttachPoint::PageFault => PAGE_FAULT,
        AttachPoint::CapAlloc | AttachPoint::CapFree => CAP_SLOT,
        AttachPoint::CapMap => CAP_MAP,
        AttachPoint::CapUnmap => CAP_UNMAP,
        AttachPoint::CapInvoke => CAP_INVOKE,
        AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval => HEADER,
    }
}

/// Find a field by name.
pub fn find(point: AttachPoint, name: &str) -> Option<&'static Field> {
    of(point).iter().find(|f| f.name == name)
}

/// Find the field that starts at `offset` with exactly `size` bytes: the only
/// context reads the verifier accepts.
pub fn at(point: AttachPoint, offset: usize, size: usize) -> Option<&'static Field> {
    of(point)
        .iter()
        .find(|f| f.offset == offset && f.ty.size() == size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_lies_inside_its_context_and_fields_do_not_overlap() {
        for p in AttachPoint::ALL {
            let size = p.context_size();
            assert!(size < MAX_CONTEXT_SIZE);
            let mut end = 0;
            for f in p.fields() {
                assert!(f.offset >= end, "{p}: {} overlaps", f.name);
                end = f.offset + f.ty.size();
                assert!(end <= size, "{p}: {} outside", f.name);
            }
        }
    }

    #[test]
    fn syscall_args_have_distinct_offsets() {
        let offs: alloc::vec::Vec<_> = (0..6)
            .map(|i| {
                find(
                    AttachPoint::SyscallEnter,
                    ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5"][i],
                )
                .unwrap()
                .offset
            })
            .collect();
        assert_eq!(offs, [32, 40, 48, 56, 64, 72]);
        assert_eq!(at(AttachPoint::SyscallEnter, 24, 8).unwrap().name, "nr");
        assert!(at(AttachPoint::SyscallEnter, 24, 4).is_none());
        assert!(
            at(AttachPoint::CapAlloc, 52, 4).is_none(),
            "reserved padding is not readable"
        );
    }
}
