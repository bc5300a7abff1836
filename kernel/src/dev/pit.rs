//! The 8254 PIT: channel 0 drives the periodic tick (IRQ 0); channel 2
//! calibrates the TSC at boot.

use crate::arch::cpu::{inb, outb, rdtsc};

/// The PIT's input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Start channel 0 as a rate generator at `hz`.
pub fn start_periodic(hz: u64) {
    let divisor = (PIT_HZ / hz).clamp(1, 0xffff) as u16;
    outb(0x43, 0x34);
    outb(0x40, divisor as u8);
    outb(0x40, (divisor >> 8) as u8);
}

/// Measure TSC ticks per second against a `ms`-long PIT channel 2 one-shot.
pub fn calibrate_tsc(ms: u64) -> u64 {
    let count = (PIT_HZ * ms / 1000).min(0xffff) as u16;
    // Gate channel 2 on, speaker off.
    outb(0x61, (inb(0x61) & !0x02) | 0x01);
    outb(0x43, 0xb0);
    outb(0x42, count as u8);
    outb(0x42, (count >> 8) as u8);
    // Restart the count by toggling the gate.
    let g = inb(0x61);
    outb(0x61, g & !0x01);
    outb(0x61, g | 0x01);
    let start = rdtsc();
    while inb(0x61) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    let ticks = rdtsc() - start;
    let real_ms_x1000 = count as u64 * 1_000_000 / PIT_HZ; // microseconds
    ticks * 1_000_000 / real_ms_x1000.max(1)
}
