//! Syscall wrappers. Numbers come from the probe ABI's table, so the
//! kernel, the runtime and probe scripts agree by construction.

use core::arch::asm;

use capscope_bytecode::abi::consts::sys as nr;
use capscope_kernel_core::Error;
use capscope_kernel_core::uabi::CapInfo;

/// A raw syscall with up to six arguments; returns `rax` as is.
#[inline(always)]
pub fn raw(n: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the kernel preserves every register except rax (result),
    // rcx and r11 (clobbered by syscall/sysret), and only touches memory
    // the arguments name, through its guarded copies.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as i64 => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Decode a syscall result.
pub fn result(r: i64) -> Result<u64, Error> {
    if r >= 0 {
        Ok(r as u64)
    } else {
        // An unknown negative value would be a kernel bug; report EINVAL.
        Err(Error::from_ret(r).unwrap_or(Error::Inval))
    }
}

fn call(n: u64, a: [u64; 6]) -> Result<u64, Error> {
    result(raw(n, a))
}

/// The null syscall.
pub fn null() -> Result<u64, Error> {
    call(nr::NULL, [0; 6])
}
/// Write bytes to the console.
pub fn print(b: &[u8]) -> Result<u64, Error> {
    call(nr::PRINT, [b.as_ptr() as u64, b.len() as u64, 0, 0, 0, 0])
}
/// End the task.
pub fn exit(status: u64) -> ! {
    raw(nr::EXIT, [status, 0, 0, 0, 0, 0]);
    unreachable!("exit returned")
}
/// Give up the CPU.
pub fn yield_cpu() -> Result<u64, Error> {
    call(nr::YIELD_CPU, [0; 6])
}
/// Sleep at least `ns` nanoseconds.
pub fn sleep(ns: u64) -> Result<u64, Error> {
    call(nr::SLEEP, [ns, 0, 0, 0, 0, 0])
}
/// Nanoseconds since boot.
pub fn clock() -> u64 {
    call(nr::CLOCK, [0; 6]).unwrap_or(0)
}
/// Create an object of `kind` from the factory in `factory` into `dst`.
pub fn create(factory: u64, kind: u64, dst: u64, arg: u64) -> Result<u64, Error> {
    call(nr::CREATE, [factory, kind, dst, arg, 0, 0])
}
/// Empty a slot.
pub fn delete(slot: u64) -> Result<u64, Error> {
    call(nr::DELETE, [slot, 0, 0, 0, 0, 0])
}
/// Map (or with `MAP_GRANT` move) `src` into slot `dst` of the task in
/// `dst_task`. Returns 1 if it replaced an occupied slot (an overmap).
pub fn map(src: u64, dst_task: u64, dst: u64, rights: u64, flags: u64) -> Result<u64, Error> {
    call(nr::MAP, [src, dst_task, dst, rights, flags, 0])
}
/// Revoke what was derived from `slot`; returns how many.
pub fn unmap(slot: u64, flags: u64) -> Result<u64, Error> {
    call(nr::UNMAP, [slot, flags, 0, 0, 0, 0])
}
/// Call a gate: send `msg[..len]`, receive the reply into `msg`.
pub fn call_gate(gate: u64, label: u64, msg: &mut [u8], len: usize) -> Result<u64, Error> {
    let len = len.min(msg.len());
    call(
        nr::CALL,
        [gate, label, msg.as_mut_ptr() as u64, len as u64, 0, 0],
    )
}
/// Receive a call on a gate into `buf`.
pub fn recv(gate: u64, buf: &mut [u8]) -> Result<u64, Error> {
    call(
        nr::RECV,
        [gate, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0],
    )
}
/// Reply to the last received call.
pub fn reply(msg: &[u8]) -> Result<u64, Error> {
    call(
        nr::REPLY,
        [msg.as_ptr() as u64, msg.len() as u64, 0, 0, 0, 0],
    )
}
/// Attach the Memory object in `slot` at `vaddr`.
pub fn attach(slot: u64, vaddr: u64, rights: u64) -> Result<u64, Error> {
    call(nr::ATTACH, [slot, vaddr, rights, 0, 0, 0])
}
/// Detach the attachment at `vaddr`.
pub fn detach(vaddr: u64) -> Result<u64, Error> {
    call(nr::DETACH, [vaddr, 0, 0, 0, 0, 0])
}
/// Start a created thread.
pub fn thread_start(
    slot: u64,
    entry: extern "C" fn(u64) -> !,
    stack: u64,
    arg: u64,
) -> Result<u64, Error> {
    call(
        nr::THREAD_START,
        [slot, entry as usize as u64, stack, arg, 0, 0],
    )
}
/// Register the thread's fault handler (entry 0: unregister).
pub fn fault_handler(entry: u64, stack: u64) -> Result<u64, Error> {
    call(nr::FAULT_HANDLER, [entry, stack, 0, 0, 0, 0])
}
/// Leave a fault upcall (`fault_action::*`).
pub fn fault_return(action: u64) -> Result<u64, Error> {
    call(nr::FAULT_RETURN, [action, 0, 0, 0, 0, 0])
}
/// Describe a slot's capability.
pub fn cap_info(slot: u64) -> Result<CapInfo, Error> {
    let mut words = [0u64; 4];
    call(nr::CAP_INFO, [slot, words.as_mut_ptr() as u64, 0, 0, 0, 0])?;
    Ok(CapInfo {
        kind: words[0],
        rights: words[1],
        object: words[2],
        detail: words[3],
    })
}
/// Wait for an interrupt; returns how many arrived.
pub fn irq_wait(slot: u64) -> Result<u64, Error> {
    call(nr::IRQ_WAIT, [slot, 0, 0, 0, 0, 0])
}
/// Start a created task running this program at `entry`.
pub fn task_start(
    slot: u64,
    entry: extern "C" fn(u64) -> !,
    stack: u64,
    arg: u64,
) -> Result<u64, Error> {
    call(
        nr::TASK_START,
        [slot, entry as usize as u64, stack, arg, 0, 0],
    )
}
/// Wait for a task to exit; returns its status.
pub fn wait_task(slot: u64) -> Result<u64, Error> {
    call(nr::WAIT_TASK, [slot, 0, 0, 0, 0, 0])
}
