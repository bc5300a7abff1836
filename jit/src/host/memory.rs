//! Host code memory: one private anonymous mapping per program, written while
//! `PROT_READ | PROT_WRITE`, then switched to `PROT_READ | PROT_EXEC` before
//! anyone can call it, and unmapped on drop.

use alloc::boxed::Box;

use crate::memory::{CodeMemory, CodeMemoryError, ExecutableCode};

/// [`CodeMemory`] over `mmap`/`mprotect`/`munmap`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostCodeMemory;

/// One mapping holding one program's code.
struct Mapping {
    base: *mut u8,
    map_len: usize,
    code_len: usize,
}

// SAFETY: the mapping is read+execute only and never written after
// `install` returns, so sharing or moving the pointer between threads
// cannot race on its bytes.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: the bytes are immutable once installed.
unsafe impl Sync for Mapping {}

// SAFETY: `install` copies exactly `code` into the mapping, then makes it
// PROT_READ | PROT_EXEC (not writable) before constructing `Mapping`; only
// `drop` unmaps it. That is the contract of `ExecutableCode`.
unsafe impl ExecutableCode for Mapping {
    fn entry(&self) -> *const u8 {
        self.base
    }

    fn len(&self) -> usize {
        self.code_len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are exactly what mmap returned, and the
        // owning `JitProgram` is being dropped, so no one can call the code.
        // munmap can only fail on bad arguments, which these are not.
        let rc = unsafe { libc::munmap(self.base.cast(), self.map_len) };
        // Tests run debug builds, so a leak-by-failed-unmap shows up there.
        debug_assert_eq!(rc, 0, "munmap failed: errno {}", errno());
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl CodeMemory for HostCodeMemory {
    fn install(&mut self, code: &[u8]) -> Result<Box<dyn ExecutableCode>, CodeMemoryError> {
        let page = page_size();
        let map_len = code
            .len()
            .max(1)
            .checked_next_multiple_of(page)
            .ok_or(CodeMemoryError::OutOfMemory { len: code.len() })?;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing aliases no Rust object.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(CodeMemoryError::OutOfMemory { len: code.len() });
        }
        // From here on `Mapping` owns it, so every error path unmaps.
        let mapping = Mapping {
            base: base.cast(),
            map_len,
            code_len: code.len(),
        };
        // SAFETY: the mapping is `map_len >= code.len()` bytes, writable, and
        // fresh, so it cannot overlap `code`.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), mapping.base, code.len());
        }
        // SAFETY: same range as mapped; dropping write permission before
        // anyone can obtain the entry point is the W^X step. x86 keeps
        // instruction fetch coherent with data writes, so no cache flush.
        let rc = unsafe {
            libc::mprotect(
                mapping.base.cast(),
                map_len,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if rc != 0 {
            return Err(CodeMemoryError::Protect { errno: errno() });
        }
        Ok(Box::new(mapping))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection_of(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let mut parts = line.split_whitespace();
            let range = parts.next().unwrap();
            let perms = parts.next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            if (lo..hi).contains(&addr) {
                return perms.to_string();
            }
        }
        String::from("unmapped")
    }

    #[test]
    fn code_is_read_exec_not_writable() {
        // mov eax, 42; ret
        let code = [0xb8, 42, 0, 0, 0, 0xc3];
        let installed = HostCodeMemory.install(&code).unwrap();
        let addr = installed.entry() as usize;
        assert_eq!(installed.len(), code.len());
        assert_eq!(&protection_of(addr)[..3], "r-x");
        // SAFETY: the bytes are a complete function that takes nothing and
        // returns in eax, mapped executable by `install`.
        let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(installed.entry()) };
        assert_eq!(f(), 42);
        // Unmapping is checked by the debug assertion in `Drop`.
        drop(installed);
    }
}
