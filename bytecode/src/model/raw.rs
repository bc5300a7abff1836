//! The model helpers' access to program memory through raw addresses.
//!
//! Helpers receive pointers as plain `u64`s (they are `extern "C"` functions
//! called from JIT-compiled code, or called by the interpreter with real
//! addresses). These three functions are the only places the model turns
//! such a number into a pointer. They copy, so a helper never holds a
//! reference into program memory, and overlapping arguments (a value
//! pointer into the very map being updated) behave like `memmove`.
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::Cell;

/// Copy `len` bytes from `addr`.
///
/// # Safety
/// `[addr, addr + len)` must be valid for reads (the helper table's
/// `MapKey`, `MapValue` or `ReadMem` guarantee, established by the checked
/// interpreter or the verifier).
pub(crate) unsafe fn read(addr: u64, len: usize) -> Vec<u8> {
    let mut out = alloc::vec![0u8; len];
    let src = core::ptr::with_exposed_provenance::<u8>(addr as usize);
    // SAFETY: the caller guarantees `len` readable bytes at `src`; `out` is a
    // fresh allocation, so the ranges cannot overlap.
    unsafe { core::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), len) };
    out
}

/// Copy `bytes` to `addr`.
///
/// # Safety
/// `[addr, addr + bytes.len())` must be valid for writes (a `WriteMem`
/// argument within its `Size`) and not overlap `bytes`.
pub(crate) unsafe fn write(addr: u64, bytes: &[u8]) {
    let dst = core::ptr::with_exposed_provenance_mut::<u8>(addr as usize);
    // SAFETY: the caller guarantees the destination is writable and
    // disjoint from `bytes`.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
}

/// Memory a program may hold pointers into: map values.
///
/// The bytes are cells, and the model only ever takes shared references to
/// them. So the pointers handed to programs (derived from a shared
/// reference to `UnsafeCell` memory, which permits writes) stay valid
/// whatever the model does meanwhile, such as updating the same value in
/// place: no `&mut` to these bytes ever exists to invalidate them.
pub(crate) struct ValueBuf(Box<[Cell<u8>]>);

impl ValueBuf {
    pub(crate) fn zeroed(len: usize) -> ValueBuf {
        ValueBuf((0..len).map(|_| Cell::new(0)).collect())
    }

    /// The address of byte `off`, with its provenance exposed so that the
    /// program (and helpers it passes the address to) may access it.
    pub(crate) fn addr(&self, off: usize) -> u64 {
        let base = self.0.as_ptr().cast::<u8>();
        base.wrapping_add(off.min(self.0.len())).expose_provenance() as u64
    }

    /// Copy of `len` bytes from `off` (missing bytes read as zero).
    pub(crate) fn read(&self, off: usize, len: usize) -> Vec<u8> {
        (off..off + len)
            .map(|i| self.0.get(i).map_or(0, Cell::get))
            .collect()
    }

    /// Store `bytes` at `off` (bytes past the end are dropped).
    pub(crate) fn write(&self, off: usize, bytes: &[u8]) {
        for (c, &b) in self.0.iter().skip(off).zip(bytes) {
            c.set(b);
        }
    }

    pub(crate) fn fill(&self, v: u8) {
        for c in self.0.iter() {
            c.set(v);
        }
    }

    pub(crate) fn any_nonzero(&self) -> bool {
        self.0.iter().any(|c| c.get() != 0)
    }
}
