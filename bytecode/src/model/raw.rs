//! The model helpers' access to program memory through raw addresses.
//!
//! Helpers receive pointers as plain `u64`s (they are `extern "C"` functions
//! called from JIT-compiled code, or called by the interpreter with real
//! addresses). These three functions are the only places the model turns
//! such a number into a pointer. They copy, so a helper never holds a
//! reference into program memory, and overlapping arguments (a value
//! pointer into the very map being updated) behave like `memmove`.
#![allow(unsafe_code)]

use alloc::vec::Vec;

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

/// The address of `bytes`, with its provenance exposed so that the program
/// (and helpers it passes the address to) may access it.
pub(crate) fn expose(bytes: &mut [u8]) -> u64 {
    bytes.as_mut_ptr().expose_provenance() as u64
}
