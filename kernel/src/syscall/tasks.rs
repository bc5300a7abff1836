//! thread_start, task_start, wait_task, fault_handler, irq_wait.

use capscope_kernel_core::cspace::SLOTS;
use capscope_kernel_core::uabi::USER_TOP;
use capscope_kernel_core::{Error, KResult, Kind, Rights, Slot, SlotRef};

use super::Outcome;
use crate::cap::{ObjEntry, Object};
use crate::state::Kernel;
use crate::task::{Block, TaskState, ThreadState};

fn lookup(k: &Kernel, slot: u64, kind: Kind, right: Rights) -> KResult<capscope_kernel_core::Cap> {
    let cap = k
        .caps
        .lookup(SlotRef::new(k.cur_task(), Slot::from_raw(slot, SLOTS)?))?
        .expect(kind)?;
    cap.rights.require(right)?;
    Ok(cap)
}

fn user_addr(a: u64) -> KResult<u64> {
    if (0x1000..USER_TOP).contains(&a) {
        Ok(a)
    } else {
        Err(Error::Inval)
    }
}

/// `thread_start(thread_slot, entry, stack, arg)`.
pub fn thread_start(k: &mut Kernel, slot: u64, entry: u64, stack: u64, arg: u64) -> KResult<u64> {
    let cap = lookup(k, slot, Kind::Thread, Rights::INVOKE)?;
    let (entry, stack) = (user_addr(entry)?, user_addr(stack)?);
    let Some(ObjEntry {
        body: Object::Thread(id),
        ..
    }) = k.objects.get(&cap.obj)
    else {
        return Err(Error::NoEnt);
    };
    let id = *id;
    let t = k.threads.get(&id).ok_or(Error::NoEnt)?;
    if t.state != ThreadState::Created {
        return Err(Error::Busy);
    }
    if k.tasks
        .get(&t.task)
        .is_none_or(|x| x.state != TaskState::Running)
    {
        return Err(Error::Inval);
    }
    k.start_thread(id, entry, stack & !15, arg);
    Ok(0)
}

/// `task_start(task_slot, entry, stack, arg)`: load the caller's program
/// into a created task and run a new main thread at `entry` (on the
/// default stack if `stack` is 0). No capability to that thread exists.
pub fn task_start(k: &mut Kernel, slot: u64, entry: u64, stack: u64, arg: u64) -> KResult<u64> {
    let cap = lookup(k, slot, Kind::Task, Rights::INVOKE)?;
    let entry = user_addr(entry)?;
    let stack = if stack == 0 {
        None
    } else {
        Some(user_addr(stack)? & !15)
    };
    let Some(ObjEntry {
        body: Object::Task(tid),
        ..
    }) = k.objects.get(&cap.obj)
    else {
        return Err(Error::NoEnt);
    };
    let tid = *tid;
    if k.tasks
        .get(&tid)
        .is_none_or(|t| t.state != TaskState::Created)
    {
        return Err(Error::Busy);
    }
    let me = k.cur_task();
    let program = k.tasks[&me].program.ok_or(Error::Inval)?;
    let (main, _) = k.new_thread(tid, None)?;
    if let Err(e) = k.start_task(tid, program, main, Some(entry), stack, arg) {
        k.free_thread(main);
        return Err(e);
    }
    Ok(0)
}

/// `wait_task(task_slot)`: the task's exit status, blocking until it exits.
pub fn wait_task(k: &mut Kernel, slot: u64) -> Outcome {
    let cap = match lookup(k, slot, Kind::Task, Rights::READ) {
        Ok(c) => c,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let Some(ObjEntry {
        body: Object::Task(tid),
        ..
    }) = k.objects.get(&cap.obj)
    else {
        return Outcome::Ret(Err(Error::NoEnt));
    };
    let tid = *tid;
    match k.tasks.get(&tid).map(|t| t.state) {
        Some(TaskState::Exited(s)) => Outcome::Ret(Ok(s)),
        Some(TaskState::Running) if tid != k.cur_task() => {
            let me = k.cur_id();
            k.tasks.get_mut(&tid).expect("task").waiters.push(me);
            k.block_current(Block::WaitTask { task: tid });
            Outcome::Blocked
        }
        _ => Outcome::Ret(Err(Error::Inval)),
    }
}

/// `fault_handler(entry, stack)`: register (entry 0: remove) the calling
/// thread's fault handler, entered on `stack`.
pub fn fault_handler(k: &mut Kernel, entry: u64, stack: u64) -> KResult<u64> {
    if entry == 0 {
        k.cur().handler = None;
        return Ok(0);
    }
    let (entry, stack) = (user_addr(entry)?, user_addr(stack)?);
    k.cur().handler = Some((entry, stack));
    Ok(0)
}

/// `irq_wait(irq_slot)`: interrupts since the last wait (blocking for one).
pub fn irq_wait(k: &mut Kernel, slot: u64) -> Outcome {
    let cap = match lookup(k, slot, Kind::Irq, Rights::INVOKE) {
        Ok(c) => c,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let me = k.cur_id();
    let Some(ObjEntry {
        body: Object::Irq(irq),
        ..
    }) = k.objects.get_mut(&cap.obj)
    else {
        return Outcome::Ret(Err(Error::NoEnt));
    };
    if irq.pending > 0 {
        return Outcome::Ret(Ok(core::mem::take(&mut irq.pending)));
    }
    if irq.waiter.is_some() {
        return Outcome::Ret(Err(Error::Busy));
    }
    irq.waiter = Some(me);
    k.block_current(Block::Irq { irq: cap.obj });
    Outcome::Blocked
}
