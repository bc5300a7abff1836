//! Where machine code lives. The JIT produces bytes; a [`CodeMemory`] turns
//! them into something callable. The kernel implements it over its own code
//! pages, the host over `mmap` ([`crate::host::HostCodeMemory`]).
//!
//! The contract is W^X: memory is writable while the code is copied in, then
//! read+execute and never writable again, and it is released when the
//! [`ExecutableCode`] is dropped.

use alloc::boxed::Box;
use core::fmt;

/// Installed machine code. Dropping it frees the memory, so nothing may call
/// into it afterwards; [`crate::JitProgram`] owns it for exactly that reason.
///
/// # Safety
///
/// Implementors promise that, until drop:
/// 1. `entry()` points at `len()` bytes that are exactly the bytes passed to
///    [`CodeMemory::install`], mapped readable and executable and *not*
///    writable;
/// 2. those bytes are not modified or unmapped by anyone else.
pub unsafe trait ExecutableCode: Send + Sync {
    /// Address of the first code byte.
    fn entry(&self) -> *const u8;
    /// Number of code bytes.
    fn len(&self) -> usize;
    /// True if there are no code bytes (never for a compiled program).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A source of executable memory.
///
/// Implementations allocate writable memory, copy `code` into it, then make
/// it read+execute (flushing instruction caches where the machine needs it)
/// before returning: written, then executable, never both.
pub trait CodeMemory {
    /// Install `code` and return a handle that frees it on drop.
    fn install(&mut self, code: &[u8]) -> Result<Box<dyn ExecutableCode>, CodeMemoryError>;
}

/// Why code memory could not be provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMemoryError {
    /// No memory of that size is available.
    OutOfMemory {
        /// Bytes requested.
        len: usize,
    },
    /// Changing the protection failed (an OS error number, or 0 if none).
    Protect {
        /// The OS error number.
        errno: i32,
    },
}

impl fmt::Display for CodeMemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeMemoryError::OutOfMemory { len } => {
                write!(f, "no executable memory for {len} bytes of code")
            }
            CodeMemoryError::Protect { errno } => {
                write!(f, "could not make code memory executable (errno {errno})")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CodeMemoryError {}
