//! User faults: demand paging, reflection to user handlers, kill.
//!
//! A page fault in an attached Memory region, with an access the
//! attachment allows, maps the object's page (allocating it on first
//! touch): outcome `RESOLVED`. Any other fault (page fault or exception)
//! is reflected: the kernel writes a [`FaultFrame`] onto the thread's
//! registered fault-handler stack and enters the handler with `rdi`
//! pointing at it (`REFLECTED`); the handler ends with `fault_return`. A
//! thread with no handler, or one that faults inside its handler, is
//! killed (`FATAL`). `fault:page` fires once per page fault, with the
//! outcome.

use alloc::boxed::Box;

use capscope_bytecode::abi::consts::fault as access_bits;
use capscope_bytecode::abi::context::PageFaultCtx;
use capscope_kernel_core::uabi::{FaultFrame, Regs, USER_TOP, fault_action};
use capscope_kernel_core::{Error, KResult, Rights};

use crate::arch::trap::{ExitPath, TrapFrame};
use crate::arch::{cpu, report, uaccess};
use crate::cap::{ObjEntry, Object};
use crate::hooks::{self, AttachPoint};
use crate::kprintln;
use crate::mm::frame;
use crate::mm::paging::{NX, W};
use crate::state::Kernel;
use crate::task::Upcall;

/// Turn a page-fault error code into `FAULT_*` bits.
fn access_of(error: u64) -> u64 {
    let mut a = if error & 2 != 0 {
        access_bits::WRITE
    } else {
        access_bits::READ
    };
    if error & 16 != 0 {
        a = access_bits::EXEC;
    }
    if error & 4 != 0 {
        a |= access_bits::USER;
    }
    if error & 1 != 0 {
        a |= access_bits::PRESENT;
    }
    a
}

impl Kernel {
    /// Map the page of an attached Memory object at `addr` if the current
    /// task may access it with `access` and it is not mapped yet.
    /// Returns true if the page is now mapped.
    pub fn demand_page(&mut self, addr: u64, access: u64) -> bool {
        let tid = self.cur_task();
        let Some(task) = self.tasks.get_mut(&tid) else {
            return false;
        };
        let Some(a) = task.attachments.iter().find(|a| a.contains(addr)).copied() else {
            return false;
        };
        let need = if access & access_bits::WRITE != 0 {
            Rights::WRITE
        } else if access & access_bits::EXEC != 0 {
            Rights::EXEC
        } else {
            Rights::READ
        };
        let page = addr & !4095;
        let aspace = task.aspace.as_mut().expect("running task");
        if !a.rights.contains(need) || aspace.is_mapped(page) {
            return false;
        }
        let idx = ((page - a.base) / 4096) as usize;
        let Some(ObjEntry {
            body: Object::Memory(m),
            ..
        }) = self.objects.get_mut(&a.mem)
        else {
            return false;
        };
        let frame = match m.pages[idx] {
            Some(f) => f,
            None => match frame::alloc_zeroed() {
                Some(f) => {
                    m.pages[idx] = Some(f);
                    f
                }
                None => return false,
            },
        };
        let flags = (if a.rights.contains(Rights::WRITE) {
            W
        } else {
            0
        }) | (if a.rights.contains(Rights::EXEC) {
            0
        } else {
            NX
        });
        aspace.map(page, frame, flags).is_ok()
    }

    /// Fault in every attached page of `[addr, addr+len)` before a kernel
    /// copy, so syscalls see demand paging too. Pages that cannot be
    /// faulted in are left alone: the guarded copy then fails with EFAULT.
    pub fn populate(&mut self, addr: u64, len: usize, write: bool) {
        if len == 0 || uaccess::check_range(addr, len).is_err() {
            return;
        }
        let access = if write {
            access_bits::WRITE
        } else {
            access_bits::READ
        };
        let mut page = addr & !4095;
        while page < addr + len as u64 {
            if self.demand_page(page, access) {
                let rip = self.cur().frame.rip;
                let tid = self.cur_task();
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.stats.resolved += 1;
                }
                hooks::fire(AttachPoint::PageFault, || PageFaultCtx {
                    header: hooks::header(),
                    addr: page,
                    rip,
                    access: access as u32,
                    outcome: access_bits::RESOLVED as u32,
                });
            }
            page += 4096;
        }
    }

    /// Copy from user memory with demand paging.
    pub fn copy_in(&mut self, dst: &mut [u8], src: u64) -> KResult<()> {
        self.populate(src, dst.len(), false);
        uaccess::copy_from_user(dst, src)
    }

    /// Copy to user memory with demand paging.
    pub fn copy_out(&mut self, dst: u64, src: &[u8]) -> KResult<()> {
        self.populate(dst, src.len(), true);
        uaccess::copy_to_user(dst, src)
    }

    /// An exception from user mode (the frame is already saved).
    pub fn user_exception(&mut self, frame: &TrapFrame) {
        let (vector, error) = (frame.vector, frame.error);
        let (addr, access) = if vector == 14 {
            (cpu::cr2(), access_of(error))
        } else {
            (0, 0)
        };
        let tid = self.cur_task();
        let outcome = if vector == 14 && self.demand_page(addr, access) {
            access_bits::RESOLVED
        } else if self
            .reflect(frame.regs(), addr, access, vector, error)
            .is_ok()
        {
            access_bits::REFLECTED
        } else {
            access_bits::FATAL
        };
        if let Some(t) = self.tasks.get_mut(&tid) {
            match outcome {
                access_bits::RESOLVED => t.stats.resolved += 1,
                access_bits::REFLECTED => t.stats.reflected += 1,
                _ => t.stats.fatal += 1,
            }
        }
        if vector == 14 {
            hooks::fire(AttachPoint::PageFault, || PageFaultCtx {
                header: hooks::header(),
                addr,
                rip: frame.rip,
                access: access as u32,
                outcome: outcome as u32,
            });
        }
        if outcome == access_bits::FATAL {
            let id = self.cur_id();
            kprintln!(
                "capscope: thread {} of task {} killed: {} (vector {vector}) at rip {:#x}, address {addr:#x}",
                id.0,
                tid.0,
                report::vector_name(vector),
                frame.rip
            );
            self.kill_thread(id);
        }
    }

    /// Enter the current thread's fault handler with a frame describing
    /// the fault. Fails if there is no handler, the thread is already in
    /// its handler, or the handler stack is unusable.
    fn reflect(
        &mut self,
        regs: Regs,
        addr: u64,
        access: u64,
        vector: u64,
        error: u64,
    ) -> KResult<()> {
        let t = self.cur();
        let (entry, stack) = t.handler.ok_or(Error::NoEnt)?;
        if t.upcall.is_some() {
            return Err(Error::Busy);
        }
        let ff = FaultFrame {
            regs,
            addr,
            access,
            vector,
            error_code: error,
        };
        let size = core::mem::size_of::<FaultFrame>() as u64;
        let frame_addr = (stack.checked_sub(size).ok_or(Error::Fault)?) & !15;
        // SAFETY of the view: FaultFrame is repr(C) plain u64s.
        let bytes = as_bytes(&ff);
        self.copy_out(frame_addr, bytes)?;
        let t = self.cur();
        t.upcall = Some(Upcall {
            frame_addr,
            fpu: Box::new(t.fpu),
        });
        // Enter like a call: a zero return address below the frame.
        let rsp = frame_addr - 8;
        self.copy_out(rsp, &0u64.to_le_bytes())?;
        let t = self.cur();
        t.frame.rip = entry;
        t.frame.rsp = rsp;
        t.frame.rdi = frame_addr;
        t.frame.rbp = 0;
        t.path = ExitPath::Iret;
        Ok(())
    }

    /// `fault_return(action)`: leave a fault upcall.
    pub fn fault_return(&mut self, action: u64) -> KResult<()> {
        let frame_addr = match &self.cur().upcall {
            Some(u) => u.frame_addr,
            None => return Err(Error::Inval),
        };
        match action {
            fault_action::RESUME => {
                let mut ff = FaultFrame::default();
                let ok = self.copy_in(as_bytes_mut(&mut ff), frame_addr).is_ok()
                    && ff.regs.rip < USER_TOP
                    && ff.regs.rsp < USER_TOP;
                if !ok {
                    let id = self.cur_id();
                    kprintln!(
                        "capscope: thread {} killed: bad fault frame on return",
                        id.0
                    );
                    self.kill_thread(id);
                    return Ok(());
                }
                let t = self.cur();
                let up = t.upcall.take().expect("checked above");
                t.fpu = *up.fpu;
                let r = ff.regs;
                let f = &mut t.frame;
                (f.r15, f.r14, f.r13, f.r12, f.r11, f.r10, f.r9, f.r8) =
                    (r.r15, r.r14, r.r13, r.r12, r.r11, r.r10, r.r9, r.r8);
                (f.rbp, f.rdi, f.rsi, f.rdx, f.rcx, f.rbx, f.rax) =
                    (r.rbp, r.rdi, r.rsi, r.rdx, r.rcx, r.rbx, r.rax);
                (f.rip, f.rsp, f.rflags) = (r.rip, r.rsp, r.rflags);
                t.path = ExitPath::Iret;
                t.syscall_nr = None;
                Ok(())
            }
            fault_action::KILL => {
                let id = self.cur_id();
                self.kill_thread(id);
                Ok(())
            }
            _ => Err(Error::Inval),
        }
    }
}

fn as_bytes(ff: &FaultFrame) -> &[u8] {
    // SAFETY: FaultFrame is repr(C), all u64 fields, no padding; any byte
    // view of it is valid.
    unsafe {
        core::slice::from_raw_parts(
            (ff as *const FaultFrame).cast(),
            core::mem::size_of::<FaultFrame>(),
        )
    }
}

fn as_bytes_mut(ff: &mut FaultFrame) -> &mut [u8] {
    // SAFETY: as above; every bit pattern is a valid FaultFrame.
    unsafe {
        core::slice::from_raw_parts_mut(
            (ff as *mut FaultFrame).cast(),
            core::mem::size_of::<FaultFrame>(),
        )
    }
}

/// A fault in kernel mode. Returns (the fault is fixed, resume) only for
/// a guarded user-copy instruction; everything else is a kernel bug.
pub fn kernel_fault(frame: &mut TrapFrame) {
    if (frame.vector == 14 || frame.vector == 13)
        && let Some(fixup) = uaccess::fixup(frame.rip)
    {
        frame.rip = fixup;
        return;
    }
    report::kernel_fault(frame)
}
