//! The kernel's engine: verify every program, then JIT-compile it.
//!
//! The kernel trusts nothing the host sends, so it runs the verifier on
//! each program itself (the host ran the same verifier before sending, to
//! show errors early) and hands the verifier's facts to the JIT. A
//! rejection becomes [`LoadError::Verify`] with the verifier's stable code,
//! instruction, message, register state and source span.

use alloc::boxed::Box;
use alloc::string::ToString;

use capscope_jit::{ArrayLayout, CodeMemory, Jit, Linker};
use capscope_verifier::Options as VerifyOptions;

use crate::abi::helpers::HelperFn;
use crate::error::LoadError;
use crate::insn::{HelperId, MapIdx};
use crate::loader::Engine;
use crate::maps::Map;
use crate::object::ProbeObject;
use crate::registry::Code;

pub use capscope_jit::Options as JitOptions;

/// Verifies and compiles programs into code memory the kernel provides.
pub struct JitEngine<'m> {
    jit: Jit,
    mem: &'m mut dyn CodeMemory,
    verify: VerifyOptions,
    verify_ns: u64,
    jit_ns: u64,
}

impl<'m> JitEngine<'m> {
    /// An engine compiling with `opts` into `mem`.
    pub fn new(opts: &JitOptions, mem: &'m mut dyn CodeMemory) -> Result<Self, LoadError> {
        let jit = Jit::new(opts).map_err(|e| LoadError::Jit {
            program: 0,
            message: e.to_string(),
        })?;
        Ok(JitEngine {
            jit,
            mem,
            verify: VerifyOptions::default(),
            verify_ns: 0,
            jit_ns: 0,
        })
    }

    /// Nanoseconds spent verifying, over every program compiled so far
    /// (the platform's clock; 0 before [`crate::init`]). The control
    /// channel reports it with each load.
    pub fn verify_ns(&self) -> u64 {
        self.verify_ns
    }

    /// Nanoseconds spent in the JIT, over every program compiled so far.
    pub fn jit_ns(&self) -> u64 {
        self.jit_ns
    }
}

/// The platform's clock, or 0 before `init` (timing is then all zeros).
fn now() -> u64 {
    crate::fire::platform().map_or(0, |p| p.now_ns())
}

/// Resolves map handles (the loaded maps' addresses) and helpers (this
/// crate's implementations) for the JIT, and lets it inline lookups in
/// arrays and per-CPU arrays.
struct KernelLinker<'a> {
    handles: &'a [u64],
}

impl Linker for KernelLinker<'_> {
    fn map_handle(&self, idx: MapIdx) -> Option<u64> {
        self.handles.get(idx.as_usize()).copied()
    }

    fn helper(&self, id: HelperId) -> Option<HelperFn> {
        crate::helpers::helper(id)
    }

    fn array_map(&self, idx: MapIdx) -> Option<ArrayLayout> {
        let h = *self.handles.get(idx.as_usize())?;
        // SAFETY: the loader passes handles of maps it owns, alive for this
        // call (and for as long as the compiled program can run).
        let map = unsafe { &*(h as *const Map) };
        map.array_layout()
    }
}

impl Engine for JitEngine<'_> {
    fn compile(
        &mut self,
        obj: &ProbeObject,
        index: usize,
        maps: &[u64],
    ) -> Result<Code, LoadError> {
        let prog = obj.programs.get(index).ok_or(LoadError::Unsupported {
            index: index as u32,
            reason: "no such program".to_string(),
        })?;
        let t0 = now();
        let verified = capscope_verifier::verify(prog, &obj.maps, &self.verify);
        let t1 = now();
        self.verify_ns += t1.saturating_sub(t0);
        let verified = verified.map_err(|r| LoadError::Verify {
            program: index as u32,
            name: prog.name.clone(),
            code: r.code.to_string(),
            insn: r.insn.0,
            message: match r.asm() {
                Some(asm) => alloc::format!("`{asm}`: {}", r.kind),
                None => r.kind.to_string(),
            },
            state: r.state.to_string(),
            span: r.span,
        })?;
        let linker = KernelLinker { handles: maps };
        let jp = self
            .jit
            .compile(&prog.insns, &verified.facts, &linker, &mut *self.mem);
        self.jit_ns += now().saturating_sub(t1);
        let jp = jp.map_err(|e| LoadError::Jit {
            program: index as u32,
            message: e.to_string(),
        })?;
        let entry = jp.entry_fn();
        let bytes = jp.code_size() as u64;
        // SAFETY: the verifier accepted the program for its attach point
        // with these maps and the helper table, the linker resolved exactly
        // those, and `jp` (which owns the code memory) becomes the owner,
        // kept alive by the registry until no firing can run it. Per-CPU
        // layouts hold for every CPU below `ncpus()`, the only indices the
        // fire path passes (`Code::new`'s contract).
        Ok(unsafe { Code::new(entry, Box::new(jp), bytes) })
    }
}
