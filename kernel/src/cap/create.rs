//! `create`: making objects from a factory, and the initial task.
//!
//! Decode checks the factory (kind, `RIGHT_INVOKE`, quota), the kind, the
//! destination slot and the kind's argument without changing anything.
//! Then the object is built (the only fallible part left is running out of
//! frames for a task's address space, which changes nothing visible), and
//! the capability is inserted, which cannot fail.

use alloc::collections::VecDeque;
use alloc::vec;

use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::{MEMORY_MAX, slots};
use capscope_kernel_core::{Cap, Error, KResult, Kind, ObjId, Rights, Slot, SlotRef, TaskId};

use super::{Gate, Irq, Memory, ObjEntry, Object};
use crate::state::Kernel;
use crate::task::TaskState;
use crate::workloads::Program;

/// A checked `create`.
struct CreateOp {
    factory: ObjId,
    kind: Kind,
    /// Quota taken from the factory (1, plus a sub-factory's quota).
    cost: u64,
    arg: Arg,
}

enum Arg {
    None,
    Thread(TaskId),
    Pages(u64),
    Label(u64),
    Line(u8),
    Quota(u64),
}

/// The factory quota of the initial task.
pub const ROOT_QUOTA: u64 = 4096;

impl Kernel {
    fn decode_create(
        &self,
        factory_slot: u64,
        kind: u64,
        dst: SlotRef,
        arg: u64,
    ) -> KResult<CreateOp> {
        let me = dst.task;
        let fcap = self
            .caps
            .lookup(SlotRef::new(me, Slot::from_raw(factory_slot, SLOTS)?))?;
        let fcap = fcap.expect(Kind::Factory)?;
        fcap.rights.require(Rights::INVOKE)?;
        let kind = Kind::from_raw(kind)?;
        self.caps.decode_insert(dst)?;
        let quota = match self.objects.get(&fcap.obj) {
            Some(ObjEntry {
                body: Object::Factory(q),
                ..
            }) => *q,
            _ => return Err(Error::NoEnt),
        };
        let (arg, cost) = match kind {
            Kind::Task if arg == 0 => {
                if self.tasks.len() >= crate::state::MAX_TASKS {
                    return Err(Error::NoSpc);
                }
                (Arg::None, 1)
            }
            Kind::Task => return Err(Error::Inval),
            Kind::Thread => {
                let tcap = self
                    .caps
                    .lookup(SlotRef::new(me, Slot::from_raw(arg, SLOTS)?))?
                    .expect(Kind::Task)?;
                tcap.rights.require(Rights::INVOKE)?;
                let Some(ObjEntry {
                    body: Object::Task(t),
                    ..
                }) = self.objects.get(&tcap.obj)
                else {
                    return Err(Error::NoEnt);
                };
                if self
                    .tasks
                    .get(t)
                    .is_none_or(|x| x.state != TaskState::Running)
                {
                    return Err(Error::Inval);
                }
                (Arg::Thread(*t), 1)
            }
            Kind::Memory => {
                if arg == 0 || arg > MEMORY_MAX {
                    return Err(Error::Inval);
                }
                let pages = arg.div_ceil(4096);
                if self.committed_pages + pages > self.page_budget {
                    return Err(Error::NoMem);
                }
                (Arg::Pages(pages), 1)
            }
            Kind::Gate => (Arg::Label(arg), 1),
            Kind::Irq => {
                // Lines 3 and 4 are the kernel's serial ports.
                if arg >= 16 || arg == 3 || arg == 4 {
                    return Err(Error::Inval);
                }
                if self.irq_lines[arg as usize].is_some() {
                    return Err(Error::Busy);
                }
                (Arg::Line(arg as u8), 1)
            }
            Kind::Factory => (Arg::Quota(arg), arg.checked_add(1).ok_or(Error::NoSpc)?),
        };
        if cost > quota {
            return Err(Error::NoSpc);
        }
        Ok(CreateOp {
            factory: fcap.obj,
            kind,
            cost,
            arg,
        })
    }

    /// `create(factory_slot, kind, dst_slot, arg)`. `arg` is: 0 for a
    /// Task; the slot of a running Task for a Thread; the size in bytes
    /// for Memory; the protocol label for a Gate; the line for an Irq; the
    /// quota to hand over for a Factory. Returns the new object's id.
    pub fn sys_create(
        &mut self,
        factory_slot: u64,
        kind: u64,
        dst_slot: u64,
        arg: u64,
    ) -> KResult<u64> {
        let dst = SlotRef::new(self.cur_task(), Slot::from_raw(dst_slot, SLOTS)?);
        let op = self.decode_create(factory_slot, kind, dst, arg)?;
        let obj = self.build(&op)?;
        if let Some(ObjEntry {
            body: Object::Factory(q),
            ..
        }) = self.objects.get_mut(&op.factory)
        {
            *q -= op.cost;
        }
        let insert = self
            .caps
            .decode_insert(dst)
            .expect("checked by decode_create");
        let cap = Cap {
            obj,
            kind: op.kind,
            rights: Rights::ALL,
        };
        self.with_caps(|c, ev| c.invoke_insert(insert, cap, ev));
        Ok(obj.0)
    }

    /// Make the object. Fails only for lack of memory, leaving nothing.
    fn build(&mut self, op: &CreateOp) -> KResult<ObjId> {
        let f = Some(op.factory);
        Ok(match op.arg {
            Arg::None => self.new_task(f)?.1,
            Arg::Thread(t) => self.new_thread(t, f)?.1,
            Arg::Pages(n) => {
                self.committed_pages += n;
                self.simple(
                    Object::Memory(Memory {
                        pages: vec![None; n as usize],
                    }),
                    f,
                )?
            }
            Arg::Label(label) => self.simple(
                Object::Gate(Gate {
                    label,
                    server: None,
                    receivers: VecDeque::new(),
                    callers: VecDeque::new(),
                }),
                f,
            )?,
            Arg::Line(line) => {
                let id = self.simple(
                    Object::Irq(Irq {
                        line,
                        pending: 0,
                        waiter: None,
                    }),
                    f,
                )?;
                self.irq_lines[line as usize] = Some(id);
                id
            }
            Arg::Quota(q) => self.simple(Object::Factory(q), f)?,
        })
    }

    fn simple(&mut self, body: Object, factory: Option<ObjId>) -> KResult<ObjId> {
        let id = self.alloc_obj_id()?;
        self.add_object(id, body, factory);
        Ok(id)
    }

    /// Create and start the workload's main task: its own Task capability
    /// in slot 0, a factory in slot 1, its main thread in slot 2.
    pub fn create_init_task(&mut self, program: &'static Program) -> KResult<TaskId> {
        let (tid, tobj) = self.new_task(None)?;
        let fobj = self.simple(Object::Factory(ROOT_QUOTA), None)?;
        let (main, thobj) = self.new_thread(tid, None)?;
        for (slot, obj, kind) in [
            (slots::TASK, tobj, Kind::Task),
            (slots::FACTORY, fobj, Kind::Factory),
            (slots::THREAD, thobj, Kind::Thread),
        ] {
            let op = self
                .caps
                .decode_insert(SlotRef::new(tid, Slot(slot as u32)))?;
            let cap = Cap {
                obj,
                kind,
                rights: Rights::ALL,
            };
            self.with_caps(|c, ev| c.invoke_insert(op, cap, ev));
        }
        self.init_task = Some(tid);
        self.start_task(tid, program, main, None, None, 0)?;
        Ok(tid)
    }
}
