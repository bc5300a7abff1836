//! Leaving QEMU through `isa-debug-exit` (`iobase=0xf4`): QEMU exits with
//! `(code << 1) | 1`.

use crate::arch::cpu;

/// The status written after a kernel fault or panic; QEMU then exits 255.
pub const KERNEL_FAILURE: u8 = 127;

/// Exit QEMU with a workload status. Statuses above 126 are clamped to
/// 126 so they cannot be mistaken for a kernel failure.
pub fn exit_qemu(status: u64) -> ! {
    let code = if status > 126 { 126 } else { status as u8 };
    raw_exit(code)
}

/// Exit QEMU with a raw code.
pub fn raw_exit(code: u8) -> ! {
    cpu::outl(0xf4, code as u32);
    // Without the device (a user's own QEMU command line) just stop.
    cpu::halt_forever()
}
