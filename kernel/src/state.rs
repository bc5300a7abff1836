//! The kernel's state: one structure, in one [`Global`].
//!
//! Every kernel entry locks it once (`KERNEL.lock()`), does its work and
//! drops it before leaving for user mode or the idle loop. Nothing else is
//! global except what must be reachable without it: the frame allocator,
//! the heap, the console, and the few atomics probes read (current ids,
//! user registers for stack walks).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use capscope_kernel_core::cspace::CapSystem;
use capscope_kernel_core::{Cap, Error, KResult, ObjId, TaskId};

use crate::cap::ObjEntry;
use crate::sync::Global;
use crate::task::{Task, Thread, ThreadId};

/// The kernel state.
pub struct Kernel {
    /// Capability spaces and the mapping database.
    pub caps: CapSystem,
    /// Every live object.
    pub objects: BTreeMap<ObjId, ObjEntry>,
    /// Tasks by id.
    pub tasks: BTreeMap<TaskId, Task>,
    /// Threads by id.
    pub threads: BTreeMap<ThreadId, Box<Thread>>,
    /// Ready threads other than `current`, in order.
    pub runq: VecDeque<ThreadId>,
    /// The thread whose user state the last kernel entry saved.
    pub current: Option<ThreadId>,
    /// Timer ticks since boot.
    pub ticks: u64,
    /// Ticks left in the current thread's time slice.
    pub slice: u32,
    /// Irq objects by line.
    pub irq_lines: [Option<ObjId>; 16],
    /// Objects that lost their last capability, to be reaped.
    pub dead: Vec<Cap>,
    /// The workload's main task (its exit ends the run).
    pub init_task: Option<TaskId>,
    /// Pages promised to Memory objects (their size, touched or not).
    pub committed_pages: u64,
    /// The most pages Memory objects may be promised: the free frames at
    /// boot. With the task and attachment limits, this bounds the kernel
    /// heap any user program can consume, so running out of heap (a
    /// panic) cannot be provoked from user mode.
    pub page_budget: u64,
    next_obj: u64,
    next_task: u32,
    next_thread: u32,
}

/// Most live tasks at once (each costs a capability space on the heap).
pub const MAX_TASKS: usize = 64;
/// Most attachments per task.
pub const MAX_ATTACHMENTS: usize = 64;

/// The one instance.
pub static KERNEL: Global<Kernel> = Global::new(Kernel {
    caps: CapSystem::new(),
    objects: BTreeMap::new(),
    tasks: BTreeMap::new(),
    threads: BTreeMap::new(),
    runq: VecDeque::new(),
    current: None,
    ticks: 0,
    slice: 0,
    irq_lines: [None; 16],
    dead: Vec::new(),
    init_task: None,
    committed_pages: 0,
    page_budget: 0,
    next_obj: 1,
    next_task: 1,
    next_thread: 1,
});

impl Kernel {
    /// A fresh object id.
    pub fn alloc_obj_id(&mut self) -> KResult<ObjId> {
        let id = self.next_obj;
        self.next_obj = id.checked_add(1).ok_or(Error::NoSpc)?;
        Ok(ObjId(id))
    }

    /// A fresh task id.
    pub fn alloc_task_id(&mut self) -> KResult<TaskId> {
        let id = self.next_task;
        self.next_task = id.checked_add(1).ok_or(Error::NoSpc)?;
        Ok(TaskId(id))
    }

    /// A fresh thread id.
    pub fn alloc_thread_id(&mut self) -> KResult<ThreadId> {
        let id = self.next_thread;
        self.next_thread = id.checked_add(1).ok_or(Error::NoSpc)?;
        Ok(ThreadId(id))
    }

    /// The current thread (a syscall always has one).
    pub fn cur(&mut self) -> &mut Thread {
        let id = self.current.expect("a syscall without a current thread");
        self.threads.get_mut(&id).expect("current thread exists")
    }

    /// The current thread's id.
    pub fn cur_id(&self) -> ThreadId {
        self.current.expect("a syscall without a current thread")
    }

    /// The current task's id.
    pub fn cur_task(&self) -> TaskId {
        self.threads[&self.cur_id()].task
    }
}
