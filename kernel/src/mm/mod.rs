//! Memory management: the physical frame allocator, 4-level page tables
//! with a direct map of physical memory, the kernel heap and executable
//! code pages for the JIT.
//!
//! Kernel virtual layout (the upper half is shared by every address space,
//! because each PML4 copies the kernel PML4's entries 256..512, and those
//! entries never change after boot):
//!
//! | PML4 | range | what |
//! |---|---|---|
//! | 256 | `0xffff_8000_0000_0000` + 4 GiB | direct map of physical memory (NX) |
//! | 510 | `0xffff_ff00_0000_0000` + 1 GiB | code pages (W^X) for JIT-compiled probes |
//! | 511 | `0xffff_ffff_8000_0000` + image | the kernel image (text RX, rodata R, data RW) |

pub mod code;
pub mod frame;
pub mod heap;
pub mod paging;

/// Start of the direct map.
pub const DIRECT_MAP: u64 = 0xffff_8000_0000_0000;
/// How much physical memory the direct map covers.
pub const DIRECT_MAP_SIZE: u64 = 4 << 30;
/// Where the kernel is linked (physical address + this).
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// Start of the code-page region.
pub const CODE_BASE: u64 = 0xffff_ff00_0000_0000;

/// A physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    /// The address through the direct map.
    pub const fn virt(self) -> u64 {
        self.0 + DIRECT_MAP
    }

    /// A pointer through the direct map.
    pub const fn as_ptr<T>(self) -> *mut T {
        self.virt() as *mut T
    }
}
