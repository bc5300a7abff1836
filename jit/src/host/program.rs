//! Verified, linked, runnable programs on the host.

use alloc::vec::Vec;
use core::fmt;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::helpers::HelperFn;
use capscope_bytecode::insn::{HelperId, Insn, MapIdx};
use capscope_bytecode::model::ModelEnv;
use capscope_bytecode::model::native::{self, EnvGuard};
use capscope_bytecode::object::MapDef;
use capscope_verifier::{Rejection, verify_insns};

use super::HostCodeMemory;
use crate::{Jit, JitError, JitProgram, Linker, Options};

/// The JIT's view of a model environment: its map handles and the native
/// shims of its helpers (which act on the environment entered on the
/// calling thread).
pub struct ModelLinker<'a>(pub &'a ModelEnv);

impl Linker for ModelLinker<'_> {
    fn map_handle(&self, idx: MapIdx) -> Option<u64> {
        self.0.handle(idx)
    }

    fn helper(&self, id: HelperId) -> Option<HelperFn> {
        native::helper_fn(id)
    }
}

/// Why a program cannot be compiled for the host.
#[derive(Clone, Debug)]
pub enum HostError {
    /// The verifier rejects it; the JIT runs only verified programs.
    Rejected(Rejection),
    /// The JIT cannot compile it.
    Jit(JitError),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Rejected(r) => write!(f, "{r}"),
            HostError::Jit(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HostError {}

/// Why a compiled program cannot run on the given inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The context is not the attach point's size.
    ContextSize {
        /// Bytes given.
        got: usize,
        /// Bytes the attach point's context has.
        want: usize,
    },
    /// The environment is not the one the program was linked against.
    WrongEnvironment,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::ContextSize { got, want } => {
                write!(f, "context is {got} bytes, the attach point's is {want}")
            }
            RunError::WrongEnvironment => {
                write!(f, "not the environment the program was linked against")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// A verified program, compiled against one [`ModelEnv`].
pub struct HostProgram {
    program: JitProgram,
    point: AttachPoint,
    maps: Vec<MapDef>,
    handles: Vec<u64>,
}

impl HostProgram {
    /// Verify `insns` for `point` against `env`'s maps, then compile them
    /// with the verifier's facts, linked to `env`.
    pub fn compile(
        insns: &[Insn],
        point: AttachPoint,
        env: &ModelEnv,
        opts: &Options,
    ) -> Result<HostProgram, HostError> {
        let maps: Vec<MapDef> = env.defs().cloned().collect();
        let verified = verify_insns(insns, point, &maps, &capscope_verifier::Options::default())
            .map_err(HostError::Rejected)?;
        let program = Jit::new(opts)
            .and_then(|mut jit| {
                jit.compile(
                    insns,
                    &verified.facts,
                    &ModelLinker(env),
                    &mut HostCodeMemory,
                )
            })
            .map_err(HostError::Jit)?;
        Ok(HostProgram {
            program,
            point,
            handles: handles(env),
            maps,
        })
    }

    /// The compiled program (code size, `--emit` texts).
    pub fn program(&self) -> &JitProgram {
        &self.program
    }

    /// Run once over `ctx` with `env`'s maps and helpers; returns r0.
    pub fn run(&self, ctx: &[u8], env: &mut ModelEnv) -> Result<u64, RunError> {
        Ok(self.runner(ctx, env)?.run())
    }

    /// Check the inputs once, for running many times (benchmarks).
    pub fn runner<'a>(
        &'a self,
        ctx: &'a [u8],
        env: &'a mut ModelEnv,
    ) -> Result<Runner<'a>, RunError> {
        let want = self.point.context_size();
        if ctx.len() != want {
            return Err(RunError::ContextSize {
                got: ctx.len(),
                want,
            });
        }
        // The same definitions at the same handles: the maps the verifier
        // checked the program against, at the addresses the code embeds.
        if !env.defs().eq(self.maps.iter()) || handles(env) != self.handles {
            return Err(RunError::WrongEnvironment);
        }
        Ok(Runner {
            program: &self.program,
            ctx,
            _guard: env.enter(),
        })
    }
}

fn handles(env: &ModelEnv) -> Vec<u64> {
    (0u32..).map_while(|i| env.handle(MapIdx(i))).collect()
}

/// A program with checked inputs and its environment entered for the
/// native helpers, until dropped.
pub struct Runner<'a> {
    program: &'a JitProgram,
    ctx: &'a [u8],
    _guard: EnvGuard<'a>,
}

impl Runner<'_> {
    /// Run once; returns r0.
    #[inline]
    pub fn run(&mut self) -> u64 {
        // SAFETY: `HostProgram::compile` verified the program for this
        // attach point against exactly these map definitions; `runner`
        // checked that the context has the attach point's size and that
        // the environment has those maps at the handles the code embeds;
        // the guard keeps that environment entered (and exclusively
        // borrowed) for the native helpers, which implement the helper
        // table. That is everything `JitProgram::call` requires; the stack
        // is the caller's thread's, far larger than the 512-byte frames.
        // `ModelLinker` describes no array storage, so no lookup was
        // inlined and the CPU index is never read: the model's helpers take
        // the CPU from the environment's event.
        unsafe { self.program.call(self.ctx.as_ptr(), 0) }
    }
}
