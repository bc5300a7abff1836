//! The JIT engine of `capscope exec` (`--engine jit`, the default), and
//! `--bench N` / `--emit clif|asm`.
//!
//! The JIT runs only verified programs, so this path verifies first (through
//! `capscope_jit::host::HostProgram`, which runs the verifier itself and
//! checks the context and environment on every run; this crate stays free
//! of `unsafe`).

use std::time::Instant;

use capscope_bytecode::interp::{self, Config, Exit, Trap};
use capscope_bytecode::model::ModelEnv;
use capscope_bytecode::object::ProgramDef;
use capscope_jit::Options;
use capscope_jit::host::{HostError, HostProgram};

/// What `--emit` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// The Cranelift IR the JIT translated the program to.
    Clif,
    /// Cranelift's listing of the machine code.
    Asm,
}

/// A JIT run: r0 and, with `--bench`, how long a run took.
pub struct JitRun {
    /// The program's result.
    pub r0: u64,
    /// The mean over `--bench N` runs, in nanoseconds.
    pub ns_per_run: Option<f64>,
}

/// Verify and compile `program` against `env`, print the `--emit` text,
/// then run it `runs` times (timing them if more than one).
pub fn run(
    program: &ProgramDef,
    env: &mut ModelEnv,
    ctx: &[u8],
    emit: Option<Emit>,
    runs: u64,
) -> anyhow::Result<Result<JitRun, HostError>> {
    let opts = Options {
        emit_clif: emit == Some(Emit::Clif),
        emit_asm: emit == Some(Emit::Asm),
        ..Options::host()
    };
    let compiled = match HostProgram::compile(&program.insns, program.attach.point, env, &opts) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let text = match emit {
        Some(Emit::Clif) => compiled.program().clif(),
        Some(Emit::Asm) => compiled.program().asm(),
        None => None,
    };
    if let Some(text) = text {
        println!("{}", text.trim_end());
    }
    let mut runner = compiled.runner(ctx, env)?;
    let start = Instant::now();
    let mut r0 = runner.run();
    for _ in 1..runs {
        r0 = std::hint::black_box(runner.run());
    }
    let elapsed = start.elapsed();
    Ok(Ok(JitRun {
        r0,
        ns_per_run: (runs > 1).then(|| elapsed.as_nanos() as f64 / runs as f64),
    }))
}

/// `--bench N` with the interpreter: N checked runs on the same maps; the
/// last run's result and the mean time per run.
pub fn bench_interp(
    program: &ProgramDef,
    env: &mut ModelEnv,
    ctx: &[u8],
    cfg: &Config,
    runs: u64,
) -> (Result<Exit, Trap>, f64) {
    let p = match interp::Program::new(&program.insns) {
        Ok(p) => p,
        Err(trap) => return (Err(trap), 0.0),
    };
    let start = Instant::now();
    let mut done = 1;
    let mut last = p.run(ctx, env, cfg);
    while done < runs && last.is_ok() {
        last = p.run(ctx, env, cfg);
        done += 1;
    }
    (last, start.elapsed().as_nanos() as f64 / done as f64)
}
