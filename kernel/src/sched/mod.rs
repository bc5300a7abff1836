//! Scheduling, interrupts, and the way back to user mode.
//!
//! Round robin over ready threads with a time slice of [`SLICE_TICKS`]
//! timer ticks; a thread that blocks or yields gives up the rest of its
//! slice. [`resume`] is the kernel's only exit: it picks a thread, switches
//! address space, finishes any pending syscall completion *in that
//! thread's address space*, fires `syscall:exit`, and returns to user mode
//! — or enters the idle loop when nothing is ready.

use capscope_bytecode::abi::context::{IrqCtx, SyscallExitCtx};
use capscope_kernel_core::error::ret_of;
use capscope_kernel_core::uabi::USER_TOP;

use crate::arch::trap::{self, ExitPath, TrapFrame};
use crate::arch::{cpu, gdt, uaccess};
use crate::cap::{ObjEntry, Object};
use crate::dev::{pic, serial};
use crate::hooks::{self, AttachPoint, platform};
use crate::state::{KERNEL, Kernel};
use crate::task::{Block, ThreadId, ThreadState, Wake};

/// Ticks a thread runs before another ready thread gets the CPU.
pub const SLICE_TICKS: u32 = 10;

/// RFLAGS bits a user thread controls: CF, PF, AF, ZF, SF, DF, OF.
const USER_FLAGS: u64 = 0xcd5;

impl Kernel {
    /// Save the trapping thread's registers (called at every user entry).
    pub fn save_user(&mut self, frame: &TrapFrame, path: ExitPath) {
        if let Some(id) = self.current
            && let Some(t) = self.threads.get_mut(&id)
        {
            t.frame = *frame;
            t.path = path;
        }
        platform::note_user_regs(frame.rip, frame.rbp);
    }

    /// Block the current thread on `b`.
    pub fn block_current(&mut self, b: Block) {
        self.cur().state = ThreadState::Blocked(b);
    }

    /// Put the current thread at the back of the run queue.
    pub fn yield_current(&mut self) {
        if let Some(id) = self.current.take()
            && self
                .threads
                .get(&id)
                .is_some_and(|t| t.state == ThreadState::Ready)
        {
            self.runq.push_back(id);
        }
    }

    /// The thread to run next: the current one if still ready, else the
    /// first ready thread in the queue.
    fn pick(&mut self) -> Option<ThreadId> {
        if let Some(id) = self.current
            && self
                .threads
                .get(&id)
                .is_some_and(|t| t.state == ThreadState::Ready)
        {
            return Some(id);
        }
        while let Some(id) = self.runq.pop_front() {
            if self
                .threads
                .get(&id)
                .is_some_and(|t| t.state == ThreadState::Ready)
            {
                self.current = Some(id);
                self.slice = SLICE_TICKS;
                return Some(id);
            }
        }
        self.current = None;
        None
    }

    /// True if some blocked thread can still be woken by time or an IRQ.
    fn anything_pending(&self) -> bool {
        self.threads.values().any(|t| {
            matches!(
                t.state,
                ThreadState::Blocked(Block::Sleep { .. } | Block::Irq { .. })
            )
        }) || crate::control::enabled()
    }

    /// A timer tick: wake sleepers and IRQ-0 waiters, count down the slice.
    fn tick(&mut self, from_user: bool) {
        self.ticks += 1;
        hooks::tick();
        let now = crate::time::now_ns();
        let due: alloc::vec::Vec<ThreadId> = self
            .threads
            .values()
            .filter(|t| matches!(t.state, ThreadState::Blocked(Block::Sleep { deadline_ns }) if deadline_ns <= now))
            .map(|t| t.id)
            .collect();
        for id in due {
            self.wake(id, Wake::Ret(0));
        }
        self.irq_line(0);
        if from_user && self.current.is_some() {
            self.slice = self.slice.saturating_sub(1);
            if self.slice == 0 && !self.runq.is_empty() {
                self.yield_current();
            }
        }
    }

    /// Deliver interrupt `line` to its Irq object, if any.
    fn irq_line(&mut self, line: usize) {
        let Some(obj) = self.irq_lines[line] else {
            return;
        };
        let Some(ObjEntry {
            body: Object::Irq(irq),
            ..
        }) = self.objects.get_mut(&obj)
        else {
            return;
        };
        irq.pending += 1;
        if let Some(w) = irq.waiter.take() {
            let n = core::mem::take(&mut irq.pending);
            self.wake(w, Wake::Ret(n as i64));
        }
    }

    /// Finish a woken thread's syscall in its own (now current) address space.
    fn complete(&mut self, id: ThreadId, w: Wake) {
        let t = self.threads.get_mut(&id).expect("thread");
        let ret = match w {
            Wake::Ret(r) => r,
            Wake::Deliver { buf, len } => {
                let n = t.msg_len.min(len as usize);
                ret_of(uaccess::copy_to_user(buf, &t.msg[..n]).map(|_| n as u64))
            }
        };
        t.frame.rax = ret as u64;
    }
}

/// Handle a hardware interrupt (vector 32..48).
pub fn irq(vector: u64, from_user: bool) {
    hooks::fire(AttachPoint::IrqEntry, || IrqCtx {
        header: hooks::header(),
        vector: vector as u32,
        from_user: from_user as u32,
    });
    let line = (vector - pic::BASE as u64) as u8;
    match line {
        0 => KERNEL.lock().tick(from_user),
        3 => serial::COM2.on_interrupt(),
        4 => serial::COM1.on_interrupt(),
        _ => KERNEL.lock().irq_line(line as usize & 15),
    }
    // IRQ 7 and 15 can be spurious; an EOI for a spurious IRQ 7 would
    // acknowledge a real one, so check the in-service register first.
    if line != 7 && line != 15 || pic_in_service(line) {
        pic::eoi(line);
    }
    hooks::fire(AttachPoint::IrqExit, || IrqCtx {
        header: hooks::header(),
        vector: vector as u32,
        from_user: from_user as u32,
    });
}

fn pic_in_service(line: u8) -> bool {
    let port = if line >= 8 { 0xa0 } else { 0x20 };
    cpu::outb(port, 0x0b);
    cpu::inb(port) & (1 << (line % 8)) != 0
}

/// Leave the kernel: run the next ready thread, or idle.
pub fn resume() -> ! {
    loop {
        let mut k = KERNEL.lock();
        let Some(id) = k.pick() else {
            if !k.anything_pending() {
                drop(k);
                crate::kprintln!(
                    "capscope: deadlock: every thread is blocked with nothing to wake it"
                );
                crate::dev::exit::raw_exit(crate::dev::exit::KERNEL_FAILURE);
            }
            drop(k);
            hooks::set_current(0, 0);
            trap::idle();
        };
        let task = k.threads[&id].task;
        let Some(root) = k
            .tasks
            .get(&task)
            .and_then(|t| t.aspace.as_ref())
            .map(|a| a.root())
        else {
            k.kill_thread(id);
            continue;
        };
        if cpu::cr3() != root {
            // SAFETY: every task PML4 shares the kernel half.
            unsafe { cpu::write_cr3(root) };
        }
        hooks::set_current(task.0, id.0);
        crate::workloads::set_current(k.tasks.get(&task).and_then(|t| t.program));
        if let Some(w) = k.threads.get_mut(&id).and_then(|t| t.wake.take()) {
            k.complete(id, w);
        }
        let t = k.threads.get_mut(&id).expect("picked thread");
        let syscall_nr = t.syscall_nr.take();
        // Never trust a saved frame: force user selectors, sane flags and a
        // canonical user rip (iret/sysret to anything else faults in ring 0).
        let f = &mut t.frame;
        f.cs = gdt::USER_CS as u64;
        f.ss = gdt::USER_DS as u64;
        f.rflags = (f.rflags & USER_FLAGS) | 0x202;
        if f.rip >= USER_TOP || f.rsp >= USER_TOP {
            crate::kprintln!("capscope: thread {} has a non-user rip/rsp; killed", id.0);
            k.kill_thread(id);
            continue;
        }
        platform::note_user_regs(f.rip, f.rbp);
        let ret = f.rax as i64;
        let (frame, fpu, path) = (&raw const t.frame, &raw const t.fpu, t.path);
        drop(k);
        // Fired last, with the kernel state released, so that with nothing
        // attached the site costs its flag test and nothing else.
        if let Some(nr) = syscall_nr {
            hooks::fire(AttachPoint::SyscallExit, || SyscallExitCtx {
                header: hooks::header(),
                nr,
                ret,
            });
        }
        // SAFETY: the frame was sanitised above; CR3 maps the thread's
        // task; the thread object (boxed, so its address is stable) cannot
        // be freed before the `iretq`/`sysretq`: interrupts are off, and
        // the only code in between is the exit hook, whose probes cannot
        // reach kernel objects.
        unsafe { trap::return_to_user(frame, fpu, path) }
    }
}
