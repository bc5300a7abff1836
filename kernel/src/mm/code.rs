//! Executable code pages for JIT-compiled probes, with W^X.
//!
//! [`CodeBuf::alloc`] maps fresh pages in the code region writable and
//! non-executable; the JIT writes into [`CodeBuf::as_mut_slice`];
//! [`CodeBuf::seal`] remaps them read-only and executable and returns the
//! [`Code`] handle. A page is never writable and executable at once.
//! Dropping either frees the pages and their virtual range.

use super::paging::{self, NX, P, W};
use super::{CODE_BASE, frame};
use crate::sync::Global;

/// Pages in the region (16 MiB).
const REGION_PAGES: usize = 4096;

/// A bitmap of used pages in the region.
static USED: Global<[u64; REGION_PAGES / 64]> = Global::new([0; REGION_PAGES / 64]);

/// Why code pages could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Zero length.
    Empty,
    /// No free run of virtual pages long enough, or no frames.
    NoMem,
}

/// Writable, not yet executable code pages.
#[derive(Debug)]
pub struct CodeBuf {
    base: u64,
    pages: usize,
}

/// Sealed, executable, read-only code.
#[derive(Debug)]
pub struct Code {
    base: u64,
    pages: usize,
}

fn reserve(pages: usize) -> Option<usize> {
    let mut used = USED.lock();
    let is_used = |u: &[u64; REGION_PAGES / 64], i: usize| u[i / 64] & (1 << (i % 64)) != 0;
    let mut run = 0;
    for i in 0..REGION_PAGES {
        run = if is_used(&used, i) { 0 } else { run + 1 };
        if run == pages {
            let first = i + 1 - pages;
            for j in first..=i {
                used[j / 64] |= 1 << (j % 64);
            }
            return Some(first);
        }
    }
    None
}

fn release(base: u64, pages: usize) {
    let first = ((base - CODE_BASE) / 4096) as usize;
    for i in 0..pages {
        if let Some(f) = paging::unmap_kernel(base + 4096 * i as u64) {
            frame::free(f);
        }
    }
    let mut used = USED.lock();
    for j in first..first + pages {
        used[j / 64] &= !(1 << (j % 64));
    }
}

impl CodeBuf {
    /// Map `len` bytes (rounded up to pages) of writable, zeroed memory.
    pub fn alloc(len: usize) -> Result<CodeBuf, CodeError> {
        if len == 0 {
            return Err(CodeError::Empty);
        }
        let pages = len.div_ceil(4096);
        let first = reserve(pages).ok_or(CodeError::NoMem)?;
        let buf = CodeBuf {
            base: CODE_BASE + 4096 * first as u64,
            pages,
        };
        for i in 0..pages {
            let f = frame::alloc_zeroed().ok_or(CodeError::NoMem)?;
            if paging::map_kernel(buf.base + 4096 * i as u64, f, P | W | NX).is_err() {
                frame::free(f);
                // Dropping `buf` unmaps and frees what was mapped so far.
                return Err(CodeError::NoMem);
            }
        }
        Ok(buf)
    }

    /// The writable bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: [base, base + pages*4096) is mapped writable and owned
        // exclusively by this buffer until it is sealed or dropped.
        unsafe { core::slice::from_raw_parts_mut(self.base as *mut u8, self.pages * 4096) }
    }

    /// Make the pages read-only and executable.
    pub fn seal(self) -> Code {
        for i in 0..self.pages {
            paging::protect_kernel(self.base + 4096 * i as u64, P);
        }
        let code = Code {
            base: self.base,
            pages: self.pages,
        };
        core::mem::forget(self);
        code
    }
}

impl Drop for CodeBuf {
    fn drop(&mut self) {
        release(self.base, self.pages);
    }
}

impl Code {
    /// The first byte's address (what the JIT's callers jump to).
    pub fn addr(&self) -> u64 {
        self.base
    }

    /// Length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.pages * 4096
    }

    /// Always false: code is at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        release(self.base, self.pages);
    }
}

/// Boot self-test: write `mov eax, 42; ret`, seal, call, free.
pub fn self_test() {
    let mut buf = CodeBuf::alloc(6).expect("code pages at boot");
    buf.as_mut_slice()[..6].copy_from_slice(&[0xb8, 42, 0, 0, 0, 0xc3]);
    let code = buf.seal();
    // SAFETY: the sealed page holds exactly the function written above,
    // which follows the C ABI (returns in eax, touches nothing else).
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(code.addr() as usize) };
    assert_eq!(f(), 42, "code-page self test");
    assert!(code.len() >= 6 && !code.is_empty());
}
