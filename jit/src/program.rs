//! A compiled, installed program.

use alloc::boxed::Box;
use alloc::string::String;

use crate::memory::ExecutableCode;

/// The native signature of a compiled program: the context pointer and the
/// index of the CPU it runs on in, r0 out.
///
/// The CPU index is not an eBPF register; the program uses it only to find
/// this CPU's copy of a per-CPU array whose lookups were inlined
/// ([`crate::ArrayLayout::cpu_stride`]). Whoever runs the program passes
/// the index its per-CPU maps use (the kernel's fire path passes the
/// `Platform::cpu` it already computed), which keeps the invariant in the
/// one place that owns it rather than trusting every hook site's header.
pub type JitFn = unsafe extern "C" fn(ctx: *const u8, cpu: u64) -> u64;

/// Machine code for one program, installed in executable memory, plus the
/// intermediate texts the [`crate::Options`] asked for. Dropping it frees the
/// code.
pub struct JitProgram {
    /// The entry point, cached so a call is one indirect call, not a
    /// virtual call to find it first.
    entry: JitFn,
    code: Box<dyn ExecutableCode>,
    clif: Option<String>,
    asm: Option<String>,
}

impl JitProgram {
    /// Wrap installed code that the compiler produced.
    pub(crate) fn new(
        code: Box<dyn ExecutableCode>,
        clif: Option<String>,
        asm: Option<String>,
    ) -> JitProgram {
        // SAFETY: `ExecutableCode` guarantees the entry points at the
        // executable bytes the compiler produced, which is a SysV function
        // taking a pointer and a u64 and returning a u64 (see `translate`). Creating
        // the pointer is safe; calling it is what callers must justify.
        let entry = unsafe { core::mem::transmute::<*const u8, JitFn>(code.entry()) };
        JitProgram {
            entry,
            code,
            clif,
            asm,
        }
    }

    /// Run the program on a context, as CPU `cpu`, and return its r0.
    ///
    /// # Safety
    ///
    /// 1. The program was accepted by the verifier for this attach point,
    ///    with the same maps and helpers the [`crate::Linker`] resolved; the
    ///    JIT adds no checks of its own, so an unverified program can read
    ///    and write any memory.
    /// 2. `ctx` points at a readable context of the size the verifier
    ///    assumed, valid for the duration of the call.
    /// 3. Every map handle and helper the linker returned is still valid.
    /// 4. The current stack has room for the 512-byte eBPF frame per
    ///    (inlined) call level, plus the helpers' own needs.
    /// 5. `cpu` is a CPU index for which every [`crate::ArrayLayout`] the
    ///    linker returned holds (any value if it returned none with a
    ///    non-zero `cpu_stride`).
    #[inline]
    pub unsafe fn call(&self, ctx: *const u8, cpu: u64) -> u64 {
        // SAFETY: the caller guarantees 1-5 above, which is everything the
        // compiled code relies on; `entry` is a function of type `JitFn` as
        // long as `self` (which owns the code memory) lives.
        unsafe { (self.entry)(ctx, cpu) }
    }

    /// The entry point as a function pointer, for callers (the kernel's fire
    /// path) that keep it next to other state. It is valid only while
    /// `self` lives, and calling it has the safety conditions of
    /// [`JitProgram::call`].
    pub fn entry_fn(&self) -> JitFn {
        self.entry
    }

    /// The machine code bytes (for disassemblers and tests).
    pub fn code(&self) -> &[u8] {
        // SAFETY: `ExecutableCode` guarantees `len` readable bytes at
        // `entry`, unchanged while `self.code` lives, which `&self` ensures.
        unsafe { core::slice::from_raw_parts(self.code.entry(), self.code.len()) }
    }

    /// Size of the machine code in bytes.
    pub fn code_size(&self) -> usize {
        self.code.len()
    }

    /// The Cranelift IR as translated (before optimization), if
    /// [`crate::Options::emit_clif`] was set.
    pub fn clif(&self) -> Option<&str> {
        self.clif.as_deref()
    }

    /// Cranelift's listing of the final machine code (its VCode text with
    /// registers allocated), if [`crate::Options::emit_asm`] was set.
    pub fn asm(&self) -> Option<&str> {
        self.asm.as_deref()
    }
}

impl core::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JitProgram")
            .field("entry", &self.code.entry())
            .field("code_size", &self.code.len())
            .finish_non_exhaustive()
    }
}
