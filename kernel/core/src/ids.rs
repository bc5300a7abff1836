//! Newtypes for the kernel's indices and ids, and the capability itself.

use capscope_bytecode::abi::consts::{kind, rights};

use crate::error::{Error, KResult};

/// A task's id (what `EventHeader::task` carries). Never 0: 0 means "no
/// task" (the idle loop, or the kernel at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

/// A slot index in a capability space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u32);

impl Slot {
    /// Interpret a raw syscall argument as a slot index. Out-of-range values
    /// (including ones that do not fit `u32`) are `ERANGE`.
    pub fn from_raw(raw: u64, slots: usize) -> KResult<Slot> {
        if raw < slots as u64 {
            Ok(Slot(raw as u32))
        } else {
            Err(Error::Range)
        }
    }

    /// The index as a `usize`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// An object's id, unique for the kernel's lifetime (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjId(pub u64);

/// A slot of a particular task: a node of the mapping database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotRef {
    /// Whose capability space.
    pub task: TaskId,
    /// Which slot.
    pub slot: Slot,
}

impl SlotRef {
    /// Shorthand constructor.
    pub const fn new(task: TaskId, slot: Slot) -> SlotRef {
        SlotRef { task, slot }
    }
}

/// The six object kinds (`KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An address space with a capability space.
    Task,
    /// A thread of execution.
    Thread,
    /// A dataspace of pages.
    Memory,
    /// An IPC endpoint with a protocol label.
    Gate,
    /// An interrupt line.
    Irq,
    /// Creates objects within a quota.
    Factory,
}

impl Kind {
    /// Decode a `KIND_*` value; unknown values are `EINVAL`.
    pub fn from_raw(raw: u64) -> KResult<Kind> {
        Ok(match raw {
            kind::TASK => Kind::Task,
            kind::THREAD => Kind::Thread,
            kind::MEMORY => Kind::Memory,
            kind::GATE => Kind::Gate,
            kind::IRQ => Kind::Irq,
            kind::FACTORY => Kind::Factory,
            _ => return Err(Error::Inval),
        })
    }

    /// The `KIND_*` value.
    pub const fn raw(self) -> u64 {
        match self {
            Kind::Task => kind::TASK,
            Kind::Thread => kind::THREAD,
            Kind::Memory => kind::MEMORY,
            Kind::Gate => kind::GATE,
            Kind::Irq => kind::IRQ,
            Kind::Factory => kind::FACTORY,
        }
    }
}

/// Capability rights (`RIGHT_*` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights(u8);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    /// Read memory; receive on a gate; wait on a task.
    pub const READ: Rights = Rights(rights::READ as u8);
    /// Write memory; write into a task's capability space.
    pub const WRITE: Rights = Rights(rights::WRITE as u8);
    /// Execute memory.
    pub const EXEC: Rights = Rights(rights::EXEC as u8);
    /// Invoke: call a gate, start a thread or task, wait on an IRQ, create
    /// from a factory.
    pub const INVOKE: Rights = Rights(rights::INVOKE as u8);
    /// Map or grant onwards.
    pub const MAP: Rights = Rights(rights::MAP as u8);
    /// Every right.
    pub const ALL: Rights = Rights(rights::ALL as u8);

    /// Decode a rights argument; unknown bits are `EINVAL`.
    pub fn from_raw(raw: u64) -> KResult<Rights> {
        if raw & !rights::ALL == 0 {
            Ok(Rights(raw as u8))
        } else {
            Err(Error::Inval)
        }
    }

    /// The `RIGHT_*` bits.
    pub const fn raw(self) -> u64 {
        self.0 as u64
    }

    /// True if every right in `other` is in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both.
    pub const fn and(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    /// The rights in either.
    pub const fn or(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// `Ok` if `self` holds `needed`, else `EPERM`.
    pub fn require(self, needed: Rights) -> KResult<()> {
        if self.contains(needed) {
            Ok(())
        } else {
            Err(Error::Perm)
        }
    }
}

/// A capability: a reference to an object plus the rights it conveys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    /// The object.
    pub obj: ObjId,
    /// Its kind (kept in the capability so checks need no object lookup).
    pub kind: Kind,
    /// What the holder may do with it.
    pub rights: Rights,
}

impl Cap {
    /// `Ok(self)` if the capability is of `kind`, else `EBADF`.
    pub fn expect(self, kind: Kind) -> KResult<Cap> {
        if self.kind == kind {
            Ok(self)
        } else {
            Err(Error::BadKind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_reject_unknown_bits() {
        assert_eq!(Rights::from_raw(rights::ALL), Ok(Rights::ALL));
        assert_eq!(Rights::from_raw(32), Err(Error::Inval));
        assert_eq!(Rights::from_raw(u64::MAX), Err(Error::Inval));
        assert!(Rights::ALL.contains(Rights::MAP.or(Rights::READ)));
        assert_eq!(Rights::READ.require(Rights::WRITE), Err(Error::Perm));
    }

    #[test]
    fn kinds_round_trip() {
        for raw in 1..=6 {
            assert_eq!(Kind::from_raw(raw).unwrap().raw(), raw);
        }
        assert_eq!(Kind::from_raw(0), Err(Error::Inval));
        assert_eq!(Kind::from_raw(7), Err(Error::Inval));
    }

    #[test]
    fn slots_range_check() {
        assert_eq!(Slot::from_raw(3, 4), Ok(Slot(3)));
        assert_eq!(Slot::from_raw(4, 4), Err(Error::Range));
        assert_eq!(Slot::from_raw(1 << 40, 4), Err(Error::Range));
    }
}
