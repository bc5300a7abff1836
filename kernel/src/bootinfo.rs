//! What the PVH loader tells the kernel: memory map and command line.
//!
//! Read once at boot, while the boot page tables still map low memory at
//! the direct map; the command line is copied into a static buffer.

use crate::mm::PhysAddr;
use crate::sync::Global;

const MAGIC: u32 = 0x336e_c578;

/// A usable RAM range `[start, end)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The parsed boot information.
pub struct BootInfo {
    /// Usable RAM ranges (type 1 in the E820-style map).
    pub ram: [Range; 16],
    /// How many of `ram` are valid.
    pub ram_count: usize,
    cmdline: [u8; 512],
    cmdline_len: usize,
}

static INFO: Global<BootInfo> = Global::new(BootInfo {
    ram: [Range { start: 0, end: 0 }; 16],
    ram_count: 0,
    cmdline: [0; 512],
    cmdline_len: 0,
});

fn read<T: Copy>(pa: u64) -> T {
    // SAFETY: `pa` is inside the start-info structure or a table it points
    // to, which QEMU places in low RAM; the boot tables map the first GiB
    // at the direct map, and the data is plain old data.
    unsafe { PhysAddr(pa).as_ptr::<T>().read_unaligned() }
}

/// Parse the start-info structure at physical `pa`.
pub fn parse(pa: u64) {
    let mut info = INFO.lock();
    if pa == 0 || pa >= 1 << 30 || read::<u32>(pa) != MAGIC {
        panic!("no PVH start info (boot with qemu -kernel)");
    }
    let version: u32 = read(pa + 4);
    let cmdline: u64 = read(pa + 24);
    if cmdline != 0 && cmdline < 1 << 30 {
        let mut n = 0;
        while n < info.cmdline.len() {
            let b: u8 = read(cmdline + n as u64);
            if b == 0 {
                break;
            }
            info.cmdline[n] = b;
            n += 1;
        }
        info.cmdline_len = n;
    }
    let (map, entries) = if version >= 1 {
        (read::<u64>(pa + 40), read::<u32>(pa + 48))
    } else {
        (0, 0)
    };
    if map != 0 && entries != 0 {
        for i in 0..entries.min(64) as u64 {
            let e = map + i * 24;
            let (addr, size, ty): (u64, u64, u32) = (read(e), read(e + 8), read(e + 16));
            if ty == 1 && info.ram_count < info.ram.len() {
                let n = info.ram_count;
                info.ram[n] = Range {
                    start: addr,
                    end: addr.saturating_add(size),
                };
                info.ram_count += 1;
            }
        }
    } else {
        // No memory map: ask the CMOS how much RAM sits above 16 MiB.
        use crate::arch::cpu::{inb, outb};
        outb(0x70, 0x34);
        let lo = inb(0x71) as u64;
        outb(0x70, 0x35);
        let hi = inb(0x71) as u64;
        info.ram[0] = Range {
            start: 1 << 20,
            end: (16 << 20) + ((hi << 8 | lo) << 16),
        };
        info.ram_count = 1;
    }
}

/// The usable RAM ranges.
pub fn ram() -> ([Range; 16], usize) {
    let i = INFO.lock();
    (i.ram, i.ram_count)
}

/// The value of `key=value` on the command line, if present.
pub fn arg(key: &str) -> Option<&'static str> {
    cmdline().split_ascii_whitespace().find_map(|w| {
        let (k, v) = w.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// True if the bare word `flag` is on the command line.
pub fn flag(flag: &str) -> bool {
    cmdline().split_ascii_whitespace().any(|w| w == flag)
}

/// The whole command line.
pub fn cmdline() -> &'static str {
    let i = INFO.lock();
    let bytes: &[u8] = &i.cmdline[..i.cmdline_len];
    // SAFETY: INFO is written only by `parse` at boot, before the first
    // call here; afterwards the buffer never changes, so extending the
    // borrow to 'static is sound.
    let bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) };
    core::str::from_utf8(bytes).unwrap_or("")
}
