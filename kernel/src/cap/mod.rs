//! Kernel objects, their reference counts, and the capability event sink.
//!
//! An object lives while capabilities refer to it (counted by the MDB in
//! `capscope-kernel-core`) or the kernel holds it (`holds`): a running
//! task or thread holds itself, an attachment holds its Memory object.
//! When both reach zero the object is destroyed ([`Kernel::reap`]), and the
//! factory that made it gets its quota back.

pub mod create;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use capscope_bytecode::abi::context::{CapMapCtx, CapSlotCtx, CapUnmapCtx};
use capscope_kernel_core::cspace::{CapEvents, FreeReason, MapEvent};
use capscope_kernel_core::{Cap, Error, ObjId, SlotRef, TaskId};

use crate::hooks::{self, AttachPoint};
use crate::mm::{PhysAddr, frame};
use crate::state::Kernel;
use crate::task::{ThreadId, Wake};

/// A dataspace: pages allocated on first touch.
pub struct Memory {
    /// Size in pages.
    pub pages: Vec<Option<PhysAddr>>,
}

/// An IPC endpoint.
pub struct Gate {
    /// The protocol label callers must use.
    pub label: u64,
    /// The task serving it (bound by its first `recv`).
    pub server: Option<TaskId>,
    /// Server threads blocked in `recv`.
    pub receivers: VecDeque<ThreadId>,
    /// Callers queued until a server receives.
    pub callers: VecDeque<ThreadId>,
}

/// An interrupt line.
pub struct Irq {
    /// The line (0..16).
    pub line: u8,
    /// Interrupts not yet consumed by `irq_wait`.
    pub pending: u64,
    /// The thread blocked in `irq_wait`.
    pub waiter: Option<ThreadId>,
}

/// What an object is.
pub enum Object {
    /// A task (state in `Kernel::tasks`).
    Task(TaskId),
    /// A thread (state in `Kernel::threads`).
    Thread(ThreadId),
    /// A dataspace.
    Memory(Memory),
    /// An IPC gate.
    Gate(Gate),
    /// An interrupt line.
    Irq(Irq),
    /// A factory with this many objects left to create.
    Factory(u64),
}

/// An object and its bookkeeping.
pub struct ObjEntry {
    /// The object.
    pub body: Object,
    /// Kernel-internal references (see module docs).
    pub holds: u32,
    /// The factory to credit when this object dies.
    pub factory: Option<ObjId>,
}

/// The MDB's event sink: fires the `cap:*` hooks and queues objects that
/// lost their last capability.
pub struct Events<'a> {
    /// Where `last_cap` objects go.
    pub dead: &'a mut Vec<Cap>,
}

fn slot_ctx(at: SlotRef, cap: Cap, reason: u64) -> CapSlotCtx {
    CapSlotCtx {
        header: hooks::header(),
        owner: at.task.0,
        slot: at.slot.0,
        kind: cap.kind.raw() as u32,
        rights: cap.rights.raw() as u32,
        object: cap.obj.0,
        reason: reason as u32,
        _reserved: 0,
    }
}

impl CapEvents for Events<'_> {
    fn alloc(&mut self, at: SlotRef, cap: Cap) {
        hooks::fire(AttachPoint::CapAlloc, || slot_ctx(at, cap, 0));
        hooks::platform::selftest_stacks("cap:alloc");
    }

    fn free(&mut self, at: SlotRef, cap: Cap, reason: FreeReason) {
        hooks::fire(AttachPoint::CapFree, || slot_ctx(at, cap, reason.raw()));
    }

    fn map(&mut self, ev: &MapEvent) {
        hooks::fire(AttachPoint::CapMap, || CapMapCtx {
            header: hooks::header(),
            src_task: ev.src.task.0,
            src_slot: ev.src.slot.0,
            dst_task: ev.dst.task.0,
            dst_slot: ev.dst.slot.0,
            kind: ev.cap.kind.raw() as u32,
            rights: ev.cap.rights.raw() as u32,
            src_rights: ev.src_rights.raw() as u32,
            overmap: ev.replaced.is_some() as u32,
            grant: ev.grant as u32,
            _reserved: 0,
            object: ev.cap.obj.0,
            replaced_object: ev.replaced.map_or(0, |c| c.obj.0),
        });
    }

    fn unmap(&mut self, at: SlotRef, cap: Cap, revoked: u32) {
        hooks::fire(AttachPoint::CapUnmap, || CapUnmapCtx {
            header: hooks::header(),
            task: at.task.0,
            slot: at.slot.0,
            kind: cap.kind.raw() as u32,
            rights: cap.rights.raw() as u32,
            object: cap.obj.0,
            revoked,
            _reserved: 0,
        });
    }

    fn last_cap(&mut self, cap: Cap) {
        self.dead.push(cap);
    }
}

impl Kernel {
    /// Run `f` with the capability system and an event sink, then reap.
    pub fn with_caps<R>(
        &mut self,
        f: impl FnOnce(&mut capscope_kernel_core::cspace::CapSystem, &mut Events<'_>) -> R,
    ) -> R {
        let r = f(
            &mut self.caps,
            &mut Events {
                dead: &mut self.dead,
            },
        );
        self.reap();
        r
    }

    /// Register a new object.
    pub fn add_object(&mut self, id: ObjId, body: Object, factory: Option<ObjId>) {
        self.objects.insert(
            id,
            ObjEntry {
                body,
                holds: 0,
                factory,
            },
        );
    }

    /// Take a kernel hold on `obj`.
    pub fn hold(&mut self, obj: ObjId) {
        if let Some(e) = self.objects.get_mut(&obj) {
            e.holds += 1;
        }
    }

    /// Drop a kernel hold; the object may die.
    pub fn unhold(&mut self, obj: ObjId) {
        if let Some(e) = self.objects.get_mut(&obj) {
            e.holds = e.holds.saturating_sub(1);
        }
        self.maybe_destroy(obj);
        self.reap();
    }

    /// Destroy every queued object that has no capability and no hold.
    pub fn reap(&mut self) {
        while let Some(cap) = self.dead.pop() {
            self.maybe_destroy(cap.obj);
        }
    }

    fn maybe_destroy(&mut self, obj: ObjId) {
        let Some(e) = self.objects.get(&obj) else {
            return;
        };
        if e.holds > 0 || self.caps.refs(obj) > 0 {
            return;
        }
        let entry = self.objects.remove(&obj).expect("checked above");
        // The factory gets back what the object cost: 1, plus a dead
        // sub-factory's unused quota.
        let credit = 1 + if let Object::Factory(q) = entry.body {
            q
        } else {
            0
        };
        if let Some(f) = entry.factory
            && let Some(ObjEntry {
                body: Object::Factory(q),
                ..
            }) = self.objects.get_mut(&f)
        {
            *q += credit;
        }
        match entry.body {
            Object::Memory(m) => {
                self.committed_pages -= m.pages.len() as u64;
                m.pages.into_iter().flatten().for_each(frame::free);
            }
            Object::Gate(g) => {
                for t in g.receivers {
                    self.wake(t, Wake::Ret(Error::NoEnt.to_ret()));
                }
                for t in g.callers {
                    self.wake(t, Wake::Ret(Error::NotConn.to_ret()));
                }
            }
            Object::Irq(irq) => {
                self.irq_lines[irq.line as usize] = None;
                if let Some(t) = irq.waiter {
                    self.wake(t, Wake::Ret(Error::NoEnt.to_ret()));
                }
            }
            Object::Factory(_) => {}
            Object::Task(tid) => self.free_task(tid),
            Object::Thread(thid) => self.free_thread(thid),
        }
    }
}
