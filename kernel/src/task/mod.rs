//! Tasks and threads: the state the kernel keeps for each.
//!
//! A task is an address space, a capability space and its threads. A
//! thread is a saved user context ([`TrapFrame`] + FPU area) plus, when it
//! waits, a [`Block`] saying for what; the kernel keeps no kernel stack
//! for it. A woken thread may carry a [`Wake`] action that finishes its
//! syscall in its own address space before it returns to user mode.

pub mod lifecycle;
pub mod loader;

use alloc::boxed::Box;
use alloc::vec::Vec;

use capscope_kernel_core::uabi::MSG_MAX;
use capscope_kernel_core::{ObjId, Rights, TaskId};

use crate::arch::trap::{ExitPath, FxArea, TrapFrame};
use crate::mm::PhysAddr;
use crate::mm::paging::AddressSpace;
use crate::workloads::Program;

/// A thread's id (what `EventHeader::thread` carries; never 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub u32);

/// A task's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Made by a factory, not started: no threads, no image.
    Created,
    /// Running its program.
    Running,
    /// Exited with a status; its spaces are torn down.
    Exited(u64),
}

/// A Memory object attached to an address range.
#[derive(Clone, Copy, Debug)]
pub struct Attachment {
    /// First address (page aligned).
    pub base: u64,
    /// Length in pages.
    pub pages: u64,
    /// The Memory object (the attachment holds a reference on it).
    pub mem: ObjId,
    /// Allowed accesses (READ/WRITE/EXEC).
    pub rights: Rights,
}

impl Attachment {
    /// True if `addr` lies inside.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.pages * 4096
    }
}

/// Per-task fault counts, printed when the task exits.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultStats {
    /// Demand-paging faults resolved.
    pub resolved: u64,
    /// Faults reflected to a user handler.
    pub reflected: u64,
    /// Faults that killed a thread.
    pub fatal: u64,
}

/// A task.
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// Its Task object.
    pub obj: ObjId,
    /// Life-cycle state.
    pub state: TaskState,
    /// Address space (gone after exit).
    pub aspace: Option<AddressSpace>,
    /// The program it runs (set when started).
    pub program: Option<&'static Program>,
    /// Its threads (live or dead but not yet freed).
    pub threads: Vec<ThreadId>,
    /// Frames the task owns outright (image and stack pages).
    pub private: Vec<PhysAddr>,
    /// Attached Memory objects.
    pub attachments: Vec<Attachment>,
    /// Threads waiting for it to exit.
    pub waiters: Vec<ThreadId>,
    /// Fault counters.
    pub stats: FaultStats,
}

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// Until the clock reads `deadline_ns` (checked at every tick).
    Sleep {
        /// `time::now_ns()` to wake at.
        deadline_ns: u64,
    },
    /// A call on `gate`; `buf`/`len` receive the message.
    Recv {
        /// The gate.
        gate: ObjId,
        /// User buffer.
        buf: u64,
        /// Its size.
        len: u64,
    },
    /// Queued on `gate` until a server receives (message in `msg`).
    Send {
        /// The gate.
        gate: ObjId,
        /// Where the reply goes.
        buf: u64,
        /// Its size.
        len: u64,
    },
    /// Delivered; waiting for `server`'s reply.
    Reply {
        /// The server thread.
        server: ThreadId,
        /// Where the reply goes.
        buf: u64,
        /// Its size.
        len: u64,
    },
    /// For the task with object `task` to exit.
    WaitTask {
        /// The task.
        task: TaskId,
    },
    /// For interrupt object `irq` to fire.
    Irq {
        /// The Irq object.
        irq: ObjId,
    },
}

/// A thread's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Made by a factory, not started.
    Created,
    /// Runnable (or running).
    Ready,
    /// Waiting.
    Blocked(Block),
    /// Finished or killed.
    Dead,
}

/// Work left to finish a woken thread's syscall, done in its address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Return this value.
    Ret(i64),
    /// Copy `msg[..msg_len]` to `buf` (at most `len` bytes) and return the
    /// copied length, or `EFAULT`.
    Deliver {
        /// User buffer.
        buf: u64,
        /// Its size.
        len: u64,
    },
}

/// A fault upcall in progress.
#[derive(Clone)]
pub struct Upcall {
    /// Where the fault frame was written on the handler stack.
    pub frame_addr: u64,
    /// The FPU state at the fault, restored on resume.
    pub fpu: Box<FxArea>,
}

/// A thread.
pub struct Thread {
    /// Its id.
    pub id: ThreadId,
    /// Its task.
    pub task: TaskId,
    /// Its Thread object.
    pub obj: ObjId,
    /// Saved user registers.
    pub frame: TrapFrame,
    /// Saved FPU/SSE state.
    pub fpu: FxArea,
    /// How to return to user mode.
    pub path: ExitPath,
    /// State.
    pub state: ThreadState,
    /// Registered fault handler (entry, stack top).
    pub handler: Option<(u64, u64)>,
    /// The upcall being handled, if any.
    pub upcall: Option<Upcall>,
    /// IPC message buffer (kernel copy).
    pub msg: [u8; MSG_MAX],
    /// Bytes valid in `msg`.
    pub msg_len: usize,
    /// The caller this thread (as a server) must reply to.
    pub reply_to: Option<ThreadId>,
    /// Pending completion after a wake-up.
    pub wake: Option<Wake>,
    /// The syscall in progress, for `syscall:exit`.
    pub syscall_nr: Option<u64>,
}

impl Thread {
    /// A fresh, not yet started thread.
    pub fn new(id: ThreadId, task: TaskId, obj: ObjId) -> Thread {
        Thread {
            id,
            task,
            obj,
            frame: TrapFrame::default(),
            fpu: FxArea::initial(),
            path: ExitPath::Iret,
            state: ThreadState::Created,
            handler: None,
            upcall: None,
            msg: [0; MSG_MAX],
            msg_len: 0,
            reply_to: None,
            wake: None,
            syscall_nr: None,
        }
    }

    /// Set up the first entry to user mode at `entry` with `stack`, `arg`.
    /// The entry is called like a function of the C ABI: `rsp + 8` is
    /// 16-byte aligned (the slot a return address would occupy).
    pub fn start(&mut self, entry: u64, stack: u64, arg: u64) {
        self.frame = TrapFrame {
            rip: entry,
            rsp: (stack & !15) - 8,
            rdi: arg,
            rflags: 0x202,
            cs: crate::arch::gdt::USER_CS as u64,
            ss: crate::arch::gdt::USER_DS as u64,
            ..TrapFrame::default()
        };
        self.path = ExitPath::Iret;
        self.state = ThreadState::Ready;
    }
}
