//! print, exit, sleep.

use capscope_kernel_core::uabi::PRINT_MAX;
use capscope_kernel_core::{Error, KResult};

use super::Outcome;
use crate::dev::serial::COM1;
use crate::state::Kernel;
use crate::task::Block;

/// `print(buf, len)`: at most `PRINT_MAX` bytes to the console.
pub fn print(k: &mut Kernel, buf: u64, len: u64) -> KResult<u64> {
    let n = usize::try_from(len)
        .ok()
        .filter(|&n| n <= PRINT_MAX)
        .ok_or(Error::TooBig)?;
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

/// `sleep(ns)`: block for at least `ns` as `clock` measures it. The
/// deadline is checked at each timer tick, so sleeps end up to one tick
/// late, never early (ticks and the TSC may drift apart under emulation).
pub fn sleep(k: &mut Kernel, ns: u64) -> Outcome {
    if ns == 0 {
        return Outcome::Ret(Ok(0));
    }
    let deadline_ns = crate::time::now_ns().saturating_add(ns);
    k.block_current(Block::Sleep { deadline_ns });
    Outcome::Blocked
}
