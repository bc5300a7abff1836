//! The JIT's code memory over the kernel's code pages (`mm::code`).
//!
//! Each program gets its own pages: written while writable and not
//! executable, then sealed read-only and executable before the JIT sees
//! its address (W^X). Dropping the handle, which kernel-hooks does only
//! after the grace period of the program's detach, frees the pages.

use alloc::boxed::Box;

use capscope_kernel_hooks::{CodeMemory, CodeMemoryError, ExecutableCode};

use crate::mm::code::{Code, CodeBuf};

/// Code memory for one load (it keeps no state of its own).
pub struct KernelCodeMemory;

/// Installed code: the sealed pages and how many bytes of them are code.
struct Installed {
    code: Code,
    len: usize,
}

// SAFETY: (1) `entry` is the first byte of pages that `install` filled
// with exactly the `len` bytes given and then sealed read-only and
// executable (`CodeBuf::seal`), so they are mapped R+X and not writable;
// (2) only `Installed` owns those pages (`Code` is not Clone), and they
// are unmapped only when it is dropped.
unsafe impl ExecutableCode for Installed {
    fn entry(&self) -> *const u8 {
        self.code.addr() as *const u8
    }
    fn len(&self) -> usize {
        self.len
    }
}

impl CodeMemory for KernelCodeMemory {
    fn install(&mut self, code: &[u8]) -> Result<Box<dyn ExecutableCode>, CodeMemoryError> {
        let oom = CodeMemoryError::OutOfMemory { len: code.len() };
        let mut buf = CodeBuf::alloc(code.len()).map_err(|_| oom)?;
        buf.as_mut_slice()
            .get_mut(..code.len())
            .ok_or(oom)?
            .copy_from_slice(code);
        Ok(Box::new(Installed {
            code: buf.seal(),
            len: code.len(),
        }))
    }
}
