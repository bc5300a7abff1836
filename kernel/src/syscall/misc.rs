//! print, exit, sleep.

use capscope_kernel_core::uabi::PRINT_MAX;
use capscope_kernel_core::{Error, KResult};

use super::Outcome;
use crate::dev::serial::COM1;
use crate::state::Kernel;
use crate::task::Block;
use crate::time::TICK_NS;

/// `print(buf, len)`: at most `PRINT_MAX` bytes to the console.
pub fn print(k: &mut Kernel, buf: u64, len: u64) -> KResult<u64> {
    let n = usize::try_from(len).ok().filter(|&n| n <= PRINT_MAX).ok_or(Error::TooBig)?;
    let mut b = [0u8; PRINT_MAX];
    k.copy_in(&mut b[..n], buf)?;
    COM1.write(&b[..n]);
    Ok(n as u64)
}

/// `exit(status)`: end the calling task.
pub fn exit(k: &mut Kernel, status: u64) -> Outcome {
    let t = k.cur_task();
    k.exit_task(t, status);
    Outcome::Done
}

/// `sleep(ns)`: block for at least `ns` (rounded up to whole ticks).
pub fn sleep(k: &mut Kernel, ns: u64) -> Outcome {
    if ns == 0 {
        return Outcome::Ret(Ok(0));
    }
    let ticks = ns.div_ceil(TICK_NS).saturating_add(1);
    let deadline = k.ticks.saturating_add(ticks);
    k.block_current(Block::Sleep { deadline });
    Outcome::Blocked
}
