//! Catching faults in user space: a handler chain and an exception table.
//!
//! The kernel reflects a fault to the thread's registered handler entry
//! with a [`FaultFrame`]. The runtime's entry ([`fault_entry`]) offers the
//! frame to each registered handler in order (head first): a handler
//! returns `Continue` (not mine), `Fixed` (it edited the frame; resume) or
//! `Fail` (kill the thread). Registration is the API the Akaros thread
//! asks for: `register_fault_handler(handler, insert_tail)` and
//! `unregister_fault_handler(handler)`.
//!
//! The runtime registers one handler itself, at the tail: the exception
//! table. [`probe_read`] reads a word with one instruction listed in the
//! `__ex_table` section; if that instruction faults, the handler finds its
//! fixup by binary search in the (sorted at start-up) table, points `rip`
//! there with `rax = -EFAULT`, and the function returns the error.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use capscope_kernel_core::Error;
use capscope_kernel_core::chain::{ChainError, FaultStatus, HandlerChain, Resolution};
use capscope_kernel_core::extable::{self, ExEntry};
use capscope_kernel_core::uabi::{FaultFrame, fault_action};

pub use capscope_kernel_core::chain::FaultStatus as Status;

/// A fault handler.
pub type Handler = fn(&mut FaultFrame) -> FaultStatus;

struct Chain(UnsafeCell<HandlerChain<Handler, 8>>);
// SAFETY: the chain is changed only by the program's main thread before it
// starts other threads (documented contract of register/unregister), and
// read by fault upcalls, which run on the faulting thread.
unsafe impl Sync for Chain {}

static CHAIN: Chain = Chain(UnsafeCell::new(HandlerChain::new()));

fn chain() -> &'static mut HandlerChain<Handler, 8> {
    // SAFETY: see `Chain`'s Sync argument; no two references are live at
    // once because each use is a single call.
    unsafe { &mut *CHAIN.0.get() }
}

/// Add `handler` at the tail (`insert_tail`) or the head of the chain.
/// Call from the main thread before starting other threads.
pub fn register_fault_handler(handler: Handler, insert_tail: bool) -> Result<(), ChainError> {
    chain().register(handler, insert_tail)
}

/// Remove `handler` from the chain.
pub fn unregister_fault_handler(handler: Handler) -> Result<(), ChainError> {
    chain().unregister(handler)
}

/// The kernel enters here (on the fault stack) with `rdi` = the frame.
extern "C" fn fault_entry(frame: *mut FaultFrame) -> ! {
    // SAFETY: the kernel wrote a complete FaultFrame at this 16-byte
    // aligned address on the handler stack, which this upcall owns.
    let frame = unsafe { &mut *frame };
    let action = match chain().dispatch(|h| h(frame)) {
        Resolution::Fixed => fault_action::RESUME,
        Resolution::Failed | Resolution::Unhandled => fault_action::KILL,
    };
    let _ = crate::sys::fault_return(action);
    unreachable!("fault_return came back")
}

global_asm!(
    r#"
    .section .text.probe_read, "ax"
    .global capscope_probe_read
    // capscope_probe_read(addr, out) -> 0, or -EFAULT via the fixup
capscope_probe_read:
    mov rax, 0
probe_read_insn:
    mov rcx, qword ptr [rdi]
    mov qword ptr [rsi], rcx
probe_read_done:
    ret

    .pushsection __ex_table, "aw"
    .p2align 3
    .quad probe_read_insn, probe_read_done
    .popsection
    "#
);

unsafe extern "C" {
    fn capscope_probe_read(addr: u64, out: *mut u64) -> i64;
    static mut __ex_table_start: ExEntry;
    static mut __ex_table_end: ExEntry;
}

/// Read a u64 at `addr`, which may be invalid: `Err(EFAULT)` instead of a
/// crash (needs [`init`]'s exception-table handler in the chain).
#[inline(never)]
pub fn probe_read(addr: u64) -> Result<u64, Error> {
    let mut out = 0u64;
    // SAFETY: the only possibly faulting instruction is guarded by the
    // exception table; `out` is a valid local.
    let r = unsafe { capscope_probe_read(addr, &mut out) };
    if r == 0 {
        Ok(out)
    } else {
        Err(Error::from_ret(r).unwrap_or(Error::Fault))
    }
}

fn table() -> &'static [ExEntry] {
    // SAFETY: the linker script bounds the table with these symbols; it
    // is only written by `init`, before any fault can read it.
    unsafe {
        let s = &raw const __ex_table_start;
        let e = &raw const __ex_table_end;
        core::slice::from_raw_parts(s, e.offset_from(s) as usize)
    }
}

/// The exception-table handler: if the faulting instruction is guarded,
/// continue at its fixup with `rax = -EFAULT`.
pub fn extable_handler(frame: &mut FaultFrame) -> FaultStatus {
    match extable::search(table(), frame.regs.rip) {
        Some(fixup) => {
            frame.regs.rip = fixup;
            frame.regs.rax = Error::Fault.to_ret() as u64;
            FaultStatus::Fixed
        }
        None => FaultStatus::Continue,
    }
}

#[repr(C, align(16))]
struct Stack([u8; 16 << 10]);
struct StackCell(UnsafeCell<Stack>);
// SAFETY: only the kernel writes it (fault frames), one upcall at a time.
unsafe impl Sync for StackCell {}
static FAULT_STACK: StackCell = StackCell(UnsafeCell::new(Stack([0; 16 << 10])));

/// Sort the exception table, put its handler in the chain, and register
/// the upcall entry with the kernel for the calling thread.
pub fn init() {
    // SAFETY: runs once at start-up, before any fault can search the table.
    unsafe {
        let s = &raw mut __ex_table_start;
        let e = &raw mut __ex_table_end;
        extable::sort(core::slice::from_raw_parts_mut(
            s,
            e.offset_from(s) as usize,
        ));
    }
    let _ = register_fault_handler(extable_handler, true);
    install_for_this_thread();
}

/// Register the runtime's upcall entry for the calling thread.
pub fn install_for_this_thread() {
    let top = FAULT_STACK.0.get() as u64 + core::mem::size_of::<Stack>() as u64;
    let _ = crate::sys::fault_handler(
        fault_entry as extern "C" fn(*mut FaultFrame) -> ! as usize as u64,
        top,
    );
}
