//! The devices the kernel drives: two 16550 serial ports (console and
//! control channel), the legacy PIC and PIT, and QEMU's debug-exit port.

pub mod exit;
pub mod pic;
pub mod pit;
pub mod serial;
