//! Creating, starting, killing and tearing down tasks and threads.

use alloc::boxed::Box;
use alloc::vec::Vec;

use capscope_kernel_core::uabi::STATUS_KILLED;
use capscope_kernel_core::{Error, KResult, ObjId, TaskId};

use super::{Block, FaultStats, Task, TaskState, Thread, ThreadId, ThreadState, Wake};
use crate::cap::Object;
use crate::mm::paging::AddressSpace;
use crate::state::Kernel;
use crate::workloads::Program;
use crate::{control, kprintln};

impl Kernel {
    /// A new task in the `Created` state, with empty address and
    /// capability spaces, made by `factory` (None for the kernel).
    pub fn new_task(&mut self, factory: Option<ObjId>) -> KResult<(TaskId, ObjId)> {
        let id = self.alloc_task_id()?;
        let obj = self.alloc_obj_id()?;
        let aspace = AddressSpace::new().map_err(|_| Error::NoMem)?;
        self.caps.create_space(id)?;
        self.tasks.insert(
            id,
            Task {
                id,
                obj,
                state: TaskState::Created,
                aspace: Some(aspace),
                program: None,
                threads: Vec::new(),
                private: Vec::new(),
                attachments: Vec::new(),
                waiters: Vec::new(),
                stats: FaultStats::default(),
            },
        );
        self.add_object(obj, Object::Task(id), factory);
        Ok((id, obj))
    }

    /// A new, not started thread of `task`.
    pub fn new_thread(
        &mut self,
        task: TaskId,
        factory: Option<ObjId>,
    ) -> KResult<(ThreadId, ObjId)> {
        let id = self.alloc_thread_id()?;
        let obj = self.alloc_obj_id()?;
        self.threads
            .insert(id, Box::new(Thread::new(id, task, obj)));
        self.tasks
            .get_mut(&task)
            .ok_or(Error::NoEnt)?
            .threads
            .push(id);
        self.add_object(obj, Object::Thread(id), factory);
        Ok((id, obj))
    }

    /// Make a created thread runnable at `entry` with `stack` and `arg`.
    pub fn start_thread(&mut self, id: ThreadId, entry: u64, stack: u64, arg: u64) {
        let t = self.threads.get_mut(&id).expect("thread");
        t.start(entry, stack, arg);
        let obj = t.obj;
        self.hold(obj);
        self.runq.push_back(id);
    }

    /// Load `program` into a created task and start `main` (a thread the
    /// caller created) at `entry` (the ELF entry if `None`).
    pub fn start_task(
        &mut self,
        tid: TaskId,
        program: &'static Program,
        main: ThreadId,
        entry: Option<u64>,
        stack: Option<u64>,
        arg: u64,
    ) -> KResult<()> {
        let task = self.tasks.get_mut(&tid).ok_or(Error::NoEnt)?;
        if task.state != TaskState::Created {
            return Err(Error::Busy);
        }
        let aspace = task.aspace.as_mut().expect("created task has a space");
        let image = super::loader::load(aspace, program.elf, &mut task.private)?;
        task.program = Some(program);
        task.state = TaskState::Running;
        let obj = task.obj;
        self.hold(obj);
        self.start_thread(
            main,
            entry.unwrap_or(image.entry),
            stack.unwrap_or(image.stack_top),
            arg,
        );
        Ok(())
    }

    /// Wake a blocked thread with `w` to finish its syscall.
    pub fn wake(&mut self, id: ThreadId, w: Wake) {
        let Some(t) = self.threads.get_mut(&id) else {
            return;
        };
        if let ThreadState::Blocked(_) = t.state {
            t.state = ThreadState::Ready;
            t.wake = Some(w);
            if self.current != Some(id) {
                self.runq.push_back(id);
            }
        }
    }

    /// Kill a thread. If it was its task's last live thread, the task
    /// exits with `STATUS_KILLED`: that is how the task is told.
    pub fn kill_thread(&mut self, id: ThreadId) {
        let Some(task) = self.threads.get(&id).map(|t| t.task) else {
            return;
        };
        self.stop_thread(id);
        let live = self.tasks.get(&task).is_some_and(|t| {
            t.threads.iter().any(|th| {
                self.threads.get(th).is_some_and(|x| {
                    x.state != ThreadState::Dead && x.state != ThreadState::Created
                })
            })
        });
        if !live
            && self
                .tasks
                .get(&task)
                .is_some_and(|t| t.state == TaskState::Running)
        {
            self.exit_task(task, STATUS_KILLED);
        }
    }

    /// Take a thread out of every queue and mark it dead.
    fn stop_thread(&mut self, id: ThreadId) {
        let Some(t) = self.threads.get_mut(&id) else {
            return;
        };
        let old = t.state;
        if old == ThreadState::Dead {
            return;
        }
        t.state = ThreadState::Dead;
        t.upcall = None;
        t.wake = None;
        let (obj, reply_to) = (t.obj, t.reply_to.take());
        self.runq.retain(|&x| x != id);
        if self.current == Some(id) {
            self.current = None;
        }
        if let ThreadState::Blocked(b) = old {
            self.unblock_queues(id, b);
        }
        if let Some(caller) = reply_to {
            self.wake(caller, Wake::Ret(Error::NotConn.to_ret()));
        }
        let waiting: Vec<ThreadId> = self
            .threads
            .values()
            .filter(|t| matches!(t.state, ThreadState::Blocked(Block::Reply { server, .. }) if server == id))
            .map(|t| t.id)
            .collect();
        for w in waiting {
            self.wake(w, Wake::Ret(Error::NotConn.to_ret()));
        }
        if old != ThreadState::Created {
            self.unhold(obj);
        }
    }

    /// Remove a blocked thread from whatever queue `b` put it on.
    fn unblock_queues(&mut self, id: ThreadId, b: Block) {
        use crate::cap::ObjEntry;
        match b {
            Block::Recv { gate, .. } | Block::Send { gate, .. } => {
                if let Some(ObjEntry {
                    body: Object::Gate(g),
                    ..
                }) = self.objects.get_mut(&gate)
                {
                    g.receivers.retain(|&x| x != id);
                    g.callers.retain(|&x| x != id);
                }
            }
            Block::WaitTask { task } => {
                if let Some(t) = self.tasks.get_mut(&task) {
                    t.waiters.retain(|&x| x != id);
                }
            }
            Block::Irq { irq } => {
                if let Some(ObjEntry {
                    body: Object::Irq(i),
                    ..
                }) = self.objects.get_mut(&irq)
                    && i.waiter == Some(id)
                {
                    i.waiter = None;
                }
            }
            Block::Sleep { .. } | Block::Reply { .. } => {}
        }
    }

    /// End a running task: kill its threads, tear down its capability
    /// space (`cap:free` with `FREE_TEARDOWN`), address space and
    /// attachments, and wake whoever waits for it. For the workload's main
    /// task, the control channel gets its "finished" rendezvous first (so
    /// a host can read probe maps while the leaked capabilities still
    /// exist), and the run ends after the teardown.
    pub fn exit_task(&mut self, tid: TaskId, status: u64) {
        let Some(task) = self.tasks.get(&tid) else {
            return;
        };
        if task.state != TaskState::Running {
            return;
        }
        for th in task.threads.clone() {
            self.stop_thread(th);
        }
        let is_init = self.init_task == Some(tid);
        if is_init {
            control::workload_finished(status);
        }
        let freed = self.with_caps(|caps, ev| caps.destroy_space(tid, ev));
        self.unbind_gates(tid);
        let task = self.tasks.get_mut(&tid).expect("task");
        debug_assert_eq!(task.id, tid);
        let attachments = core::mem::take(&mut task.attachments);
        let mut aspace = task.aspace.take().expect("running task has a space");
        for a in &attachments {
            for p in 0..a.pages {
                aspace.unmap(a.base + p * 4096);
            }
        }
        aspace.destroy();
        for f in core::mem::take(&mut task.private) {
            crate::mm::frame::free(f);
        }
        task.state = TaskState::Exited(status);
        let (obj, stats, waiters) = (task.obj, task.stats, core::mem::take(&mut task.waiters));
        for a in attachments {
            self.unhold(a.mem);
        }
        for w in waiters {
            self.wake(w, Wake::Ret(status as i64));
        }
        kprintln!(
            "capscope: task {} exited with status {}: teardown freed {} capabilities; faults: {} resolved, {} reflected, {} fatal",
            tid.0,
            status,
            freed,
            stats.resolved,
            stats.reflected,
            stats.fatal
        );
        self.unhold(obj);
        if is_init {
            let (free, total) = crate::mm::frame::stats();
            let (used, size) = crate::mm::heap::stats();
            kprintln!(
                "capscope: workload finished with status {status} (frames {free}/{total} free, heap {used}/{size} used)"
            );
            if control::serving() {
                // `control=serve`: the kernel outlives its workload and
                // keeps serving the host (`capscope boot --control`).
                kprintln!("capscope: serving the control channel");
            } else {
                crate::dev::exit::exit_qemu(status);
            }
        }
    }

    /// Unbind every gate `tid` served; callers waiting there fail.
    fn unbind_gates(&mut self, tid: TaskId) {
        let mut failed = Vec::new();
        for e in self.objects.values_mut() {
            if let Object::Gate(g) = &mut e.body
                && g.server == Some(tid)
            {
                g.server = None;
                failed.extend(g.callers.drain(..));
            }
        }
        for t in failed {
            self.wake(t, Wake::Ret(Error::NotConn.to_ret()));
        }
    }

    /// Forget a task whose object died (after exit, or never started).
    pub fn free_task(&mut self, tid: TaskId) {
        if self
            .tasks
            .get(&tid)
            .is_some_and(|t| t.state == TaskState::Created)
        {
            self.with_caps(|caps, ev| caps.destroy_space(tid, ev));
        }
        if let Some(mut t) = self.tasks.remove(&tid) {
            if let Some(a) = t.aspace.take() {
                a.destroy();
            }
            // Frames of a start that failed half-way.
            for f in core::mem::take(&mut t.private) {
                crate::mm::frame::free(f);
            }
            for th in t.threads {
                if let Some(x) = self.threads.get_mut(&th) {
                    x.state = ThreadState::Dead;
                }
            }
        }
    }

    /// Forget a thread whose object died.
    pub fn free_thread(&mut self, id: ThreadId) {
        self.stop_thread(id);
        if let Some(t) = self.threads.remove(&id)
            && let Some(task) = self.tasks.get_mut(&t.task)
        {
            task.threads.retain(|&x| x != id);
        }
    }
}
