//! capscope's JIT: verified eBPF (RFC 9669) to x86-64 machine code with
//! Cranelift, in the kernel (`no_std` + `alloc`) and on the host (feature
//! `std`).
//!
//! # Pipeline
//!
//! [`Jit::compile`] reads as the stages it runs, in order: decode the slots
//! with [`capscope_bytecode::insn::Op`] (the one decoder) and find block
//! leaders → translate reachable instructions to Cranelift IR, using the
//! verifier's [`Facts`] to drop unreachable code and decided branches, and
//! block-local facts (frame addresses, constants, stack constants, non-null
//! pointers) to fold what is known → lower with Cranelift (x86-64, no PIC,
//! no e-graph pass: see `isa.rs`) → check that no relocation is left →
//! install the bytes through a [`CodeMemory`].
//!
//! # What the produced code is
//!
//! One SysV function `extern "C" fn(ctx: *const u8) -> u64` ([`JitFn`]). eBPF
//! registers r0–r10 are Cranelift variables (so they live in machine
//! registers); r1 starts as `ctx`, r10 points one past a 512-byte stack slot
//! in the native frame (none if the program never names r10), the other
//! registers start at 0. The second argument is the index of the CPU the
//! program runs on; it is no eBPF register and only locates per-CPU array
//! storage. Helpers are called by absolute address and maps are constant
//! handles, both from the [`Linker`]: the code needs no relocation and no
//! dynamic linker. `map_lookup_elem` on an array or per-CPU array map whose
//! storage the linker describes ([`Linker::array_map`]) becomes a bounds
//! check and an address computation, and with a key known from a stack
//! constant (key-less aggregations) just an address, known non-null, so the
//! program's null check and miss path are not even translated. Local calls
//! (`call pc+N`) are inlined, each level with its own 512-byte frame, up to
//! [`MAX_CALL_DEPTH`] frames.
//!
//! # Where it runs
//!
//! The kernel implements [`Linker`] and [`CodeMemory`] over its own maps,
//! helpers and code pages and calls [`Jit::compile`]. Host tools use
//! `host::HostProgram` (feature `std`): it verifies, compiles against the
//! reference model environment, and runs without `unsafe` at the call site.
//!
//! # Guarantees
//!
//! - Every instruction has exactly the reference interpreter's semantics:
//!   ALU32 zero-extends, shift amounts are masked, division and modulo by
//!   zero give RFC 9669's results (and never trap, nor does `MIN / -1`),
//!   byte swaps, sign extensions and atomics are exact. The differential
//!   tests check this against `capscope_bytecode::interp`.
//! - Compiling never panics: malformed, unsupported or oversized programs
//!   give a [`JitError`].
//! - Code memory is W^X and freed with the [`JitProgram`].
//!
//! # Assumptions
//!
//! The JIT inserts no memory or termination checks: running a program the
//! verifier did not accept (with the same maps and helpers) is undefined
//! behaviour, which is why [`JitProgram::call`] is `unsafe`. The facts must be
//! the verifier's for these exact slots ([`Facts::conservative`] is always
//! correct).
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]

extern crate alloc;

mod error;
#[cfg(feature = "std")]
pub mod host;
mod isa;
mod linker;
mod memory;
mod program;
mod translate;

use alloc::string::ToString;

use capscope_bytecode::insn::Insn;
use capscope_verifier::Facts;
use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_frontend::FunctionBuilderContext;

pub use error::{JitError, Result, Unsupported};
pub use isa::X86Features;
pub use linker::{ArrayLayout, Linker};
pub use memory::{CodeMemory, CodeMemoryError, ExecutableCode};
pub use program::{JitFn, JitProgram};

/// Deepest nesting of local calls (`call pc+N`), as in Linux: 8 frames
/// including the main program.
pub const MAX_CALL_DEPTH: usize = 8;

/// How to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Keep the Cranelift IR text ([`JitProgram::clif`]).
    pub emit_clif: bool,
    /// Keep the machine-code listing ([`JitProgram::asm`]).
    pub emit_asm: bool,
    /// Most instructions to translate, counting each inlined copy of a local
    /// function again; more gives [`JitError::TooLarge`].
    pub max_insns: usize,
    /// Inline `map_lookup_elem` on maps for which [`Linker::array_map`]
    /// describes the storage.
    pub inline_array_lookups: bool,
    /// Run Cranelift's IR verifier (slower compiles; on in debug builds).
    pub verify_clif: bool,
    /// CPU extensions the code may use.
    pub x86: X86Features,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            emit_clif: false,
            emit_asm: false,
            max_insns: 1 << 16,
            inline_array_lookups: true,
            verify_clif: cfg!(debug_assertions),
            x86: X86Features::default(),
        }
    }
}

impl Options {
    /// Defaults, with the host CPU's extensions enabled.
    #[cfg(feature = "std")]
    pub fn host() -> Options {
        Options {
            x86: X86Features::host(),
            ..Options::default()
        }
    }
}

/// A reusable compiler: the target and Cranelift's scratch state, kept
/// between compiles so that each compile allocates less.
pub struct Jit {
    isa: OwnedTargetIsa,
    opts: Options,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl Jit {
    /// A compiler for these options.
    pub fn new(opts: &Options) -> Result<Jit> {
        Ok(Jit {
            isa: isa::build(opts)?,
            opts: *opts,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    /// Compile a verified program and install it in `mem`.
    pub fn compile(
        &mut self,
        slots: &[Insn],
        facts: &Facts,
        linker: &dyn Linker,
        mem: &mut dyn CodeMemory,
    ) -> Result<JitProgram> {
        self.ctx.clear();
        let result = self.compile_inner(slots, facts, linker, mem);
        // Leave no half-built function behind for the next compile. A
        // translation that stopped early leaves the builder context dirty,
        // and it has no public reset, so it is replaced.
        self.ctx.clear();
        if result.is_err() {
            self.fctx = FunctionBuilderContext::new();
        }
        result
    }

    fn compile_inner(
        &mut self,
        slots: &[Insn],
        facts: &Facts,
        linker: &dyn Linker,
        mem: &mut dyn CodeMemory,
    ) -> Result<JitProgram> {
        let program = translate::Program::analyze(slots, facts, &self.opts)?;
        translate::translate(
            &mut self.ctx.func,
            &mut self.fctx,
            &program,
            linker,
            &self.opts,
            self.isa.frontend_config(),
        )?;
        let clif = self
            .opts
            .emit_clif
            .then(|| self.ctx.func.display().to_string());
        self.ctx.set_disasm(self.opts.emit_asm);
        let compiled = self
            .ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .map_err(|e| JitError::Codegen(e.inner.to_string()))?;
        let relocs = compiled.buffer.relocs().len();
        if relocs != 0 {
            return Err(JitError::Relocations { count: relocs });
        }
        let asm = if self.opts.emit_asm {
            compiled.vcode.clone()
        } else {
            None
        };
        let code = mem.install(compiled.code_buffer())?;
        Ok(JitProgram::new(code, clif, asm))
    }
}

/// Compile a verified program with fresh compiler state (see [`Jit`] to
/// reuse it) and install it in `mem`.
///
/// `facts` must be the verifier's facts for exactly these slots, or
/// [`Facts::conservative`]. Fails, never panics, on anything the JIT cannot
/// translate.
pub fn compile(
    slots: &[Insn],
    facts: &Facts,
    linker: &dyn Linker,
    mem: &mut dyn CodeMemory,
    opts: &Options,
) -> Result<JitProgram> {
    Jit::new(opts)?.compile(slots, facts, linker, mem)
}
