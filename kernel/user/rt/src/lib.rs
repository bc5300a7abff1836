//! The user runtime: what a workload links to run on capscope's kernel.
//!
//! - [`sys`]: one typed wrapper per syscall (`Result<u64, Error>`).
//! - [`print!`]/[`println!`]: console output.
//! - [`fault`]: the fault-handler chain (`register_fault_handler(handler,
//!   insert_tail)`, `unregister_fault_handler`), entered by the kernel's
//!   fault upcall, and the exception table that lets [`fault::probe_read`]
//!   return `EFAULT` instead of dying.
//! - [`slots`]: a user-level capability slot allocator (the kind of
//!   bookkeeping whose mistakes CapCheck finds).
//! - the program entry (`_start`), the C memory functions and the panic
//!   handler.
//!
//! A workload defines `fn main() -> u64` and says `capscope_user_rt::entry!(main);`.
//! The returned value is the task's exit status.
#![no_std]
#![deny(missing_docs)]

pub mod console;
pub mod fault;
mod lang;
pub mod slots;
pub mod sys;

pub use capscope_bytecode::abi::consts;
pub use capscope_kernel_core::Error;
pub use capscope_kernel_core::uabi;

/// Read the time-stamp counter (for cycle measurements).
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter; CR4.TSD is clear, so ring 3 may.
    unsafe {
        core::arch::asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack))
    };
    (hi as u64) << 32 | lo as u64
}

/// Define the program's entry: `main` runs after the runtime's set-up and
/// its result becomes the exit status. `main` is called through a pointer
/// so it stays a frame of its own: stack traces show `main`, not the
/// runtime's entry it would otherwise be inlined into.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn capscope_user_main() -> u64 {
            let main: fn() -> u64 = $main;
            core::hint::black_box(main)()
        }
    };
}
