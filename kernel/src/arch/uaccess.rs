//! Access to user memory, guarded by the kernel exception table.
//!
//! The kernel never dereferences a user pointer directly. It calls
//! [`copy_from_user`] / [`copy_to_user`] (or [`read_user_u64`]), which
//! first check that the whole range lies in the user half, then copy with
//! one `rep movsb` whose address is listed in the `__ex_table` section. If
//! that instruction faults (an unmapped page, a write to read-only memory),
//! the page-fault handler finds the fixup in the sorted table and resumes
//! there, and the copy returns `EFAULT`. So a bad user pointer is an error
//! code, never a kernel fault, and the routine is safe to call from any
//! kernel context (syscalls, probe helpers, stack walks): it never takes a
//! lock or faults pages in. Syscalls that want demand paging call
//! `Kernel::populate` first.

use core::arch::global_asm;

use capscope_kernel_core::extable::{self, ExEntry};
use capscope_kernel_core::uabi::USER_TOP;
use capscope_kernel_core::{Error, KResult};

global_asm!(
    r#"
    .section .text.uaccess, "ax"
    .p2align 4
    // raw_user_copy(dst, src, len) -> 0, or the number of bytes not copied
    .global raw_user_copy
raw_user_copy:
    mov rcx, rdx
uaccess_copy_insn:
    rep movsb
    xor eax, eax
    ret
uaccess_copy_fixup:
    mov rax, rcx
    test rax, rax
    jnz 1f
    mov eax, 1
1:
    ret

    .pushsection __ex_table, "a"
    .p2align 3
    .quad uaccess_copy_insn, uaccess_copy_fixup
    .popsection
    "#
);

unsafe extern "C" {
    fn raw_user_copy(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static mut __ex_table_start: ExEntry;
    static mut __ex_table_end: ExEntry;
}

/// Check that `[addr, addr + len)` is inside the user half.
pub fn check_range(addr: u64, len: usize) -> KResult<()> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_TOP => Ok(()),
        _ => Err(Error::Fault),
    }
}

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> KResult<()> {
    check_range(src, dst.len())?;
    // SAFETY: `dst` is a valid kernel buffer of that length; the source
    // range is in the user half, and any fault reading it is caught by
    // the exception table entry for `rep movsb`.
    match unsafe { raw_user_copy(dst.as_mut_ptr(), src as *const u8, dst.len()) } {
        0 => Ok(()),
        _ => Err(Error::Fault),
    }
}

/// Copy `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> KResult<()> {
    check_range(dst, src.len())?;
    // SAFETY: as for `copy_from_user`, with the roles swapped: the kernel
    // buffer is only read, and the user range is guarded.
    match unsafe { raw_user_copy(dst as *mut u8, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(Error::Fault),
    }
}

/// Read one u64 from user memory (stack walks, probe reads).
pub fn read_user_u64(addr: u64) -> KResult<u64> {
    let mut b = [0u8; 8];
    copy_from_user(&mut b, addr)?;
    Ok(u64::from_le_bytes(b))
}

/// Sort the kernel exception table (once, at boot).
pub fn init() {
    // SAFETY: the linker places the table in .data between these symbols;
    // sorting it at boot happens before any fault can search it.
    unsafe { extable::sort(table_mut()) }
}

/// SAFETY: the caller must be the only user of the table (boot).
unsafe fn table_mut() -> &'static mut [ExEntry] {
    // SAFETY: the symbols bound a properly aligned array of entries.
    unsafe {
        let start = &raw mut __ex_table_start;
        let end = &raw mut __ex_table_end;
        core::slice::from_raw_parts_mut(start, end.offset_from(start) as usize)
    }
}

/// The fixup address for a kernel fault at `rip`, if `rip` is guarded.
pub fn fixup(rip: u64) -> Option<u64> {
    // SAFETY: after `init`, the table is only read.
    let table = unsafe {
        let start = &raw const __ex_table_start;
        let end = &raw const __ex_table_end;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    };
    extable::search(table, rip)
}
