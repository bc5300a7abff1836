//! Helpers shared by the workloads.
#![no_std]
#![deny(missing_docs)]

use capscope_user_rt::uabi::slots;

/// The factory every kernel-started task finds in its space.
pub const FACTORY: u64 = slots::FACTORY;
/// The task's own Task capability.
pub const SELF_TASK: u64 = slots::TASK;

/// Unwrap a syscall result or end the workload with a message.
#[track_caller]
pub fn check<T>(what: &str, r: Result<T, capscope_user_rt::Error>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            capscope_user_rt::println!("{what} failed: {e:?}");
            capscope_user_rt::sys::exit(1)
        }
    }
}
