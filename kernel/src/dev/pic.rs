//! The legacy 8259 PIC pair, remapped to vectors 32..48.

use crate::arch::cpu::outb;

/// Vector of IRQ 0.
pub const BASE: u8 = 32;

/// Remap both PICs and mask every line except those in `enabled` (a bit per
/// IRQ line).
pub fn init(enabled: u16) {
    // ICW1: init + ICW4; ICW2: vector offsets; ICW3: cascade on IRQ2; ICW4: 8086.
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, BASE);
    outb(0xa1, BASE + 8);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    let mask = !(enabled | if enabled & 0xff00 != 0 { 1 << 2 } else { 0 });
    outb(0x21, mask as u8);
    outb(0xa1, (mask >> 8) as u8);
}

/// Acknowledge IRQ `line`.
pub fn eoi(line: u8) {
    if line >= 8 {
        outb(0xa0, 0x20);
    }
    outb(0x20, 0x20);
}
