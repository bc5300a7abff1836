//! Loading a workload's ELF image into an address space.
//!
//! Images are embedded in the kernel and trusted to be what `kernel/user`
//! built, but the parser still checks every offset and address, so a
//! malformed image is an error, not a kernel fault. Pages are loaded
//! eagerly (copied into frames the task owns), so the only demand paging
//! a task sees is of the Memory objects it attaches: `fault:page` counts
//! stay meaningful.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use capscope_kernel_core::uabi::{STACK_SIZE, STACK_TOP, USER_BOTTOM, USER_TOP};
use capscope_kernel_core::{Error, KResult};

use crate::mm::paging::{AddressSpace, NX, W};
use crate::mm::{PhysAddr, frame};

/// What loading produced.
pub struct Image {
    /// The ELF entry point.
    pub entry: u64,
    /// Top of the main stack.
    pub stack_top: u64,
}

fn u16_at(b: &[u8], o: usize) -> KResult<u16> {
    b.get(o..o + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(Error::Inval)
}
fn u32_at(b: &[u8], o: usize) -> KResult<u32> {
    b.get(o..o + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or(Error::Inval)
}
fn u64_at(b: &[u8], o: usize) -> KResult<u64> {
    b.get(o..o + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or(Error::Inval)
}

/// Map `elf`'s loadable segments and a zeroed main stack into `aspace`;
/// the frames used are appended to `owned`.
pub fn load(aspace: &mut AddressSpace, elf: &[u8], owned: &mut Vec<PhysAddr>) -> KResult<Image> {
    if elf.get(0..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) {
        return Err(Error::Inval);
    }
    let entry = u64_at(elf, 24)?;
    let phoff = u64_at(elf, 32)? as usize;
    let phentsize = u16_at(elf, 54)? as usize;
    let phnum = u16_at(elf, 56)? as usize;
    // page -> (frame, flags); segments may share a page.
    let mut pages: BTreeMap<u64, (PhysAddr, u64)> = BTreeMap::new();
    let mut result = Ok(());
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(elf, ph)? != 1 {
            continue; // not PT_LOAD
        }
        let flags = u32_at(elf, ph + 4)?;
        let (off, vaddr) = (u64_at(elf, ph + 8)?, u64_at(elf, ph + 16)?);
        let (filesz, memsz) = (u64_at(elf, ph + 32)?, u64_at(elf, ph + 40)?);
        let end = vaddr.checked_add(memsz).ok_or(Error::Inval)?;
        if vaddr < USER_BOTTOM || end > STACK_TOP - STACK_SIZE || filesz > memsz {
            return Err(Error::Inval);
        }
        let file = off
            .checked_add(filesz)
            .and_then(|e| elf.get(off as usize..e as usize))
            .ok_or(Error::Inval)?;
        let pte = (if flags & 2 != 0 { W } else { 0 }) | (if flags & 1 != 0 { 0 } else { NX });
        let mut page = vaddr & !4095;
        while page < end {
            let entry = match pages.get_mut(&page) {
                Some(e) => e,
                None => {
                    let Some(f) = frame::alloc_zeroed() else {
                        result = Err(Error::NoMem);
                        break;
                    };
                    owned.push(f);
                    pages.entry(page).or_insert((f, NX))
                }
            };
            // Union of permissions; NX only if every sharer is NX.
            entry.1 = (entry.1 & pte & NX) | ((entry.1 | pte) & W);
            // Copy the part of the file image that falls in this page.
            let lo = page.max(vaddr);
            let hi = (page + 4096).min(vaddr + filesz);
            if lo < hi {
                let src = &file[(lo - vaddr) as usize..(hi - vaddr) as usize];
                // SAFETY: the frame is ours (just allocated or allocated
                // for an earlier segment of this image) and mapped by the
                // direct map; [lo-page, hi-page) lies within it.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        entry.0.as_ptr::<u8>().add((lo - page) as usize),
                        src.len(),
                    );
                }
            }
            page += 4096;
        }
        result?;
    }
    if !(USER_BOTTOM..USER_TOP).contains(&entry) {
        return Err(Error::Inval);
    }
    for (&va, &(f, flags)) in &pages {
        aspace.map(va, f, flags).map_err(|_| Error::NoMem)?;
    }
    let mut va = STACK_TOP - STACK_SIZE;
    while va < STACK_TOP {
        let f = frame::alloc_zeroed().ok_or(Error::NoMem)?;
        owned.push(f);
        aspace.map(va, f, W | NX).map_err(|_| Error::NoMem)?;
        va += 4096;
    }
    Ok(Image {
        entry,
        stack_top: STACK_TOP,
    })
}
