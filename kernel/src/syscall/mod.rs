//! System calls: one `match` from number to handler.
//!
//! Arguments arrive in `rdi, rsi, rdx, r10, r8, r9` (the syscall number in
//! `rax`, the result back in `rax`: non-negative on success, `-E*` on
//! failure). Every argument is hostile: slots are range-checked, rights
//! and kinds checked, user pointers copied through the guarded routines.
//! Capability operations follow decode/invoke: all checks first, with no
//! side effects; then the operation, which cannot fail.

mod caps;
mod memory;
mod misc;
mod tasks;

use capscope_bytecode::abi::consts::sys;
use capscope_kernel_core::{Error, KResult};

use crate::state::Kernel;

/// What a syscall handler did with the calling thread.
pub enum Outcome {
    /// Return this to the caller now.
    Ret(KResult<u64>),
    /// The caller blocked; a later wake-up supplies the result.
    Blocked,
    /// The caller's registers were replaced (fault return) or it is gone.
    Done,
}

impl From<KResult<u64>> for Outcome {
    fn from(r: KResult<u64>) -> Outcome {
        Outcome::Ret(r)
    }
}

/// Run syscall `nr` for the current thread.
pub fn dispatch(k: &mut Kernel, nr: u64, a: [u64; 6]) -> Outcome {
    match nr {
        sys::NULL => Ok(0).into(),
        sys::PRINT => misc::print(k, a[0], a[1]).into(),
        sys::EXIT => misc::exit(k, a[0]),
        sys::YIELD_CPU => Ok(0).into(),
        sys::SLEEP => misc::sleep(k, a[0]),
        sys::CLOCK => Ok(crate::time::now_ns()).into(),
        sys::CREATE => k.sys_create(a[0], a[1], a[2], a[3]).into(),
        sys::DELETE => caps::delete(k, a[0]).into(),
        sys::MAP => caps::map(k, a[0], a[1], a[2], a[3], a[4]).into(),
        sys::UNMAP => caps::unmap(k, a[0], a[1]).into(),
        sys::CALL => k.sys_call(a[0], a[1], a[2], a[3]),
        sys::RECV => k.sys_recv(a[0], a[1], a[2]),
        sys::REPLY => k.sys_reply(a[0], a[1]).into(),
        sys::ATTACH => memory::attach(k, a[0], a[1], a[2]).into(),
        sys::DETACH => memory::detach(k, a[0]).into(),
        sys::THREAD_START => tasks::thread_start(k, a[0], a[1], a[2], a[3]).into(),
        sys::FAULT_HANDLER => tasks::fault_handler(k, a[0], a[1]).into(),
        sys::FAULT_RETURN => match k.fault_return(a[0]) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Ret(Err(e)),
        },
        sys::CAP_INFO => caps::cap_info(k, a[0], a[1]).into(),
        sys::IRQ_WAIT => tasks::irq_wait(k, a[0]),
        sys::TASK_START => tasks::task_start(k, a[0], a[1], a[2], a[3]).into(),
        sys::WAIT_TASK => tasks::wait_task(k, a[0]),
        _ => Err(Error::NoSys).into(),
    }
}
