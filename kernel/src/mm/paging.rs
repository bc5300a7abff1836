//! 4-level page tables.
//!
//! Page tables are reached through the direct map, so editing any address
//! space needs no temporary mappings. [`init`] builds the kernel's own
//! tables (direct map, image with per-section permissions and unmapped
//! stack guard pages, the empty code-page region) and switches to them.
//! [`AddressSpace`] is a task's PML4: its lower half is the task's, its
//! upper half a copy of the kernel's top-level entries.

use super::{CODE_BASE, DIRECT_MAP, DIRECT_MAP_SIZE, KERNEL_VMA, PhysAddr, frame};
use crate::arch::{boot, cpu};
use crate::sync::Global;

/// Present.
pub const P: u64 = 1;
/// Writable.
pub const W: u64 = 1 << 1;
/// User-accessible.
pub const U: u64 = 1 << 2;
/// 2 MiB page (in a PD entry).
const PS: u64 = 1 << 7;
/// Global (kernel mappings survive CR3 switches).
const G: u64 = 1 << 8;
/// No-execute.
pub const NX: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

static KERNEL_PML4: Global<u64> = Global::new(0);

fn table(pa: u64) -> &'static mut [u64; 512] {
    // SAFETY: `pa` is a page-table frame (allocated by this module, or the
    // kernel's); the direct map covers it and page tables are only edited
    // with interrupts off on one CPU, so no other reference is live.
    unsafe { &mut *PhysAddr(pa).as_ptr::<[u64; 512]>() }
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// Out of frames while building page tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMem;

/// The entry for `va` at level 0 (the PTE), creating intermediate tables
/// with `inter` flags as needed.
fn walk_create(pml4: u64, va: u64, inter: u64) -> Result<&'static mut u64, NoMem> {
    let mut t = pml4;
    for level in (1..4).rev() {
        let e = &mut table(t)[index(va, level)];
        if *e & P == 0 {
            let f = frame::alloc_zeroed().ok_or(NoMem)?;
            *e = f.0 | inter;
        } else {
            *e |= inter & U;
        }
        t = *e & ADDR_MASK;
    }
    Ok(&mut table(t)[index(va, 0)])
}

/// The PTE for `va`, if every level above it is present (4 KiB pages only).
fn walk(pml4: u64, va: u64) -> Option<&'static mut u64> {
    let mut t = pml4;
    for level in (1..4).rev() {
        let e = table(t)[index(va, level)];
        if e & P == 0 || e & PS != 0 {
            return None;
        }
        t = e & ADDR_MASK;
    }
    Some(&mut table(t)[index(va, 0)])
}

/// Build the kernel's page tables and switch to them.
pub fn init() {
    let pml4 = frame::alloc_zeroed().expect("frame for the kernel PML4").0;
    // Direct map: 2 MiB pages, writable, never executable.
    let pdpt = frame::alloc_zeroed().expect("frame").0;
    table(pml4)[256] = pdpt | P | W;
    for gib in 0..DIRECT_MAP_SIZE >> 30 {
        let pd = frame::alloc_zeroed().expect("frame").0;
        table(pdpt)[gib as usize] = pd | P | W;
        for (i, e) in table(pd).iter_mut().enumerate() {
            *e = ((gib << 30) + ((i as u64) << 21)) | P | W | PS | G | NX;
        }
    }
    // The code-page region's PDPT exists from boot on, so every address
    // space (which copies entries 256..512) sees later code pages.
    let code_pdpt = frame::alloc_zeroed().expect("frame").0;
    table(pml4)[index(CODE_BASE, 3)] = code_pdpt | P | W;

    // The kernel image, by section.
    unsafe extern "C" {
        static __text_start: u8;
        static __text_end: u8;
        static __rodata_end: u8;
        static __kernel_end: u8;
    }
    let (text, rodata, end) = (
        &raw const __text_start as u64..&raw const __text_end as u64,
        &raw const __text_end as u64..&raw const __rodata_end as u64,
        &raw const __kernel_end as u64,
    );
    let guards = [
        boot::kernel_stack().guard(),
        boot::ist_stack(0).guard(),
        boot::ist_stack(1).guard(),
        boot::ist_stack(2).guard(),
        boot::ist_stack(3).guard(),
    ];
    let mut va = text.start;
    while va < end {
        let flags = if text.contains(&va) {
            P | G
        } else if rodata.contains(&va) {
            P | G | NX
        } else {
            P | W | G | NX
        };
        if !guards.contains(&va) {
            *walk_create(pml4, va, P | W).expect("frame") = (va - KERNEL_VMA) | flags;
        }
        va += 4096;
    }
    *KERNEL_PML4.lock() = pml4;
    // SAFETY: the new tables map the kernel image, stacks and direct map
    // at the same addresses as the boot tables (minus the identity map,
    // which nothing uses any more). PGE makes the G bit effective.
    unsafe {
        core::arch::asm!("mov {0}, cr4", "or {0}, 0x80", "mov cr4, {0}", out(reg) _);
        cpu::write_cr3(pml4);
    }
}

/// The kernel's PML4 (used when no task is current).
pub fn kernel_pml4() -> u64 {
    *KERNEL_PML4.lock()
}

/// Map one kernel page (code region) at `va` to `pa` with `flags`.
pub fn map_kernel(va: u64, pa: PhysAddr, flags: u64) -> Result<(), NoMem> {
    let pml4 = kernel_pml4();
    *walk_create(pml4, va, P | W)? = pa.0 | flags;
    cpu::invlpg(va);
    Ok(())
}

/// Change the flags of a mapped kernel page.
pub fn protect_kernel(va: u64, flags: u64) {
    if let Some(e) = walk(kernel_pml4(), va) {
        *e = (*e & ADDR_MASK) | flags;
        cpu::invlpg(va);
    }
}

/// Unmap a kernel page, returning its frame.
pub fn unmap_kernel(va: u64) -> Option<PhysAddr> {
    let e = walk(kernel_pml4(), va)?;
    if *e & P == 0 {
        return None;
    }
    let pa = PhysAddr(*e & ADDR_MASK);
    *e = 0;
    cpu::invlpg(va);
    Some(pa)
}

/// A task's address space.
#[derive(Debug)]
pub struct AddressSpace {
    pml4: u64,
}

impl AddressSpace {
    /// A fresh address space: empty lower half, the kernel's upper half.
    pub fn new() -> Result<AddressSpace, NoMem> {
        let pml4 = frame::alloc_zeroed().ok_or(NoMem)?.0;
        let k = kernel_pml4();
        table(pml4)[256..].copy_from_slice(&table(k)[256..]);
        Ok(AddressSpace { pml4 })
    }

    /// The PML4's physical address (for CR3).
    pub fn root(&self) -> u64 {
        self.pml4
    }

    /// Map user page `va` to `pa`. `flags` are `W`/`NX`; `P|U` are added.
    pub fn map(&mut self, va: u64, pa: PhysAddr, flags: u64) -> Result<(), NoMem> {
        debug_assert!(va < DIRECT_MAP);
        *walk_create(self.pml4, va, P | W | U)? = pa.0 | flags | P | U;
        cpu::invlpg(va);
        Ok(())
    }

    /// Unmap user page `va`, returning the frame it mapped.
    pub fn unmap(&mut self, va: u64) -> Option<PhysAddr> {
        let e = walk(self.pml4, va)?;
        if *e & P == 0 {
            return None;
        }
        let pa = PhysAddr(*e & ADDR_MASK);
        *e = 0;
        cpu::invlpg(va);
        Some(pa)
    }

    /// True if user page `va` is mapped.
    pub fn is_mapped(&self, va: u64) -> bool {
        walk(self.pml4, va).is_some_and(|e| *e & P != 0)
    }

    /// Free every page-table frame of the lower half and the PML4 itself.
    /// Leaf frames are not freed: their owners (the task's private pages,
    /// Memory objects) free them.
    pub fn destroy(self) {
        fn free_level(t: u64, level: u32) {
            for i in 0..512 {
                let e = table(t)[i];
                if e & P != 0 && level > 1 {
                    free_level(e & ADDR_MASK, level - 1);
                }
                if e & P != 0 && level >= 1 {
                    frame::free(PhysAddr(e & ADDR_MASK));
                }
            }
        }
        if cpu::cr3() == self.pml4 {
            // SAFETY: the kernel PML4 maps the whole kernel half.
            unsafe { cpu::write_cr3(kernel_pml4()) };
        }
        for i in 0..256 {
            let e = table(self.pml4)[i];
            if e & P != 0 {
                free_level(e & ADDR_MASK, 2);
                frame::free(PhysAddr(e & ADDR_MASK));
            }
        }
        frame::free(PhysAddr(self.pml4));
    }
}
