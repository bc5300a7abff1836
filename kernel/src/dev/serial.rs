//! 16550 UARTs: COM1 is the console, COM2 the control channel.
//!
//! Output is polled (a console write never depends on interrupts, so a
//! kernel fault report always gets out). Input is interrupt-driven: the
//! receive interrupt moves bytes into a ring buffer per port, read with
//! [`Port::read_byte`].

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::cpu::{inb, outb};

/// A serial port by base I/O address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(u16);

/// The console (IRQ 4).
pub const COM1: Port = Port(0x3f8);
/// The control channel (IRQ 3).
pub const COM2: Port = Port(0x2f8);

const RX_SIZE: usize = 4096;

/// A single-producer (interrupt) single-consumer (kernel) byte ring.
struct RxRing {
    buf: [core::sync::atomic::AtomicU8; RX_SIZE],
    head: AtomicU32,
    tail: AtomicU32,
    dropped: AtomicU32,
}

impl RxRing {
    const fn new() -> RxRing {
        RxRing {
            buf: [const { core::sync::atomic::AtomicU8::new(0) }; RX_SIZE],
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
        }
    }
}

static RX: [RxRing; 2] = [RxRing::new(), RxRing::new()];

impl Port {
    fn ring(self) -> &'static RxRing {
        if self == COM1 { &RX[0] } else { &RX[1] }
    }

    /// Program 115200 8N1 with FIFOs, and enable the receive interrupt.
    pub fn init(self) {
        let b = self.0;
        outb(b + 1, 0x00);
        outb(b + 3, 0x80);
        outb(b, 0x01);
        outb(b + 1, 0x00);
        outb(b + 3, 0x03);
        outb(b + 2, 0xc7);
        // DTR, RTS and OUT2 (OUT2 gates the interrupt line on a PC).
        outb(b + 4, 0x0b);
        outb(b + 1, 0x01);
    }

    /// True if a UART answers at this address (scratch register test).
    // Only the control channel uses this, and it exists only in hooks builds.
    #[cfg_attr(not(feature = "hooks"), allow(dead_code))]
    pub fn present(self) -> bool {
        outb(self.0 + 7, 0x5a);
        inb(self.0 + 7) == 0x5a
    }

    /// Send one byte, waiting for the transmitter.
    pub fn write_byte(self, byte: u8) {
        while inb(self.0 + 5) & 0x20 == 0 {
            core::hint::spin_loop();
        }
        outb(self.0, byte);
    }

    /// Send bytes, turning `\n` into `\r\n`.
    pub fn write(self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    /// Send bytes exactly as given (binary protocols).
    // Only the control channel uses this, and it exists only in hooks builds.
    #[cfg_attr(not(feature = "hooks"), allow(dead_code))]
    pub fn write_raw(self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Interrupt handler: drain the UART's receive FIFO into the ring.
    pub fn on_interrupt(self) {
        let ring = self.ring();
        while inb(self.0 + 5) & 1 != 0 {
            let byte = inb(self.0);
            let head = ring.head.load(Ordering::Relaxed);
            let tail = ring.tail.load(Ordering::Acquire);
            if head.wrapping_sub(tail) as usize >= RX_SIZE {
                ring.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            ring.buf[head as usize % RX_SIZE].store(byte, Ordering::Relaxed);
            ring.head.store(head.wrapping_add(1), Ordering::Release);
        }
    }

    /// Poll the UART directly (for waits with interrupts off), then take
    /// the next received byte, if any.
    // Only the control channel uses this, and it exists only in hooks builds.
    #[cfg_attr(not(feature = "hooks"), allow(dead_code))]
    pub fn read_byte(self) -> Option<u8> {
        self.on_interrupt();
        let ring = self.ring();
        let tail = ring.tail.load(Ordering::Relaxed);
        if tail == ring.head.load(Ordering::Acquire) {
            return None;
        }
        let b = ring.buf[tail as usize % RX_SIZE].load(Ordering::Relaxed);
        ring.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(b)
    }
}

/// `core::fmt` sink for the console.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        COM1.write(s.as_bytes());
        Ok(())
    }
}

/// Print to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::dev::serial::Console, $($arg)*);
    }};
}

/// Print a line to the console.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::dev::serial::Console, $($arg)*);
    }};
}
