//! `capscope`: compile, verify, run and attach probes for capability kernels.
//!
//! This binary is thin: each subcommand lives in `cmd/<name>.rs` with its
//! clap arguments and a `run` function, and the stages themselves live in
//! their crates. Exit codes: 0 success, 1 the input was rejected (a
//! diagnostic was printed), 2 usage or I/O errors.
#![forbid(unsafe_code)]

mod cmd;
mod diagnostics;
mod mapspec;
mod output;
mod session;
mod symbolize;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Dynamic tracing for capability microkernels.
#[derive(Parser)]
#[command(name = "capscope", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify raw bytecode (--raw FILE.bin --attach POINT) or a script's programs.
    Verify(cmd::verify::Args),
    /// List attach points; with -v, their context fields.
    List(cmd::list::Args),
    /// Assemble eBPF text into raw bytecode (FILE.s -o FILE.bin).
    Asm(cmd::asm::Args),
    /// Disassemble raw bytecode into eBPF text.
    Disasm(cmd::disasm::Args),
    /// Run a program once on a synthetic event and print r0 and the maps.
    Exec(cmd::exec::Args),
    /// Compile and verify a probe script; print its diagnostics.
    Check(cmd::check::Args),
    /// Boot the reference kernel under QEMU with a workload (with
    /// --control: keep it running and serve attach sessions).
    Boot(cmd::boot::Args),
    /// Boot the kernel with a workload and run a probe script on it.
    Run(cmd::run::Args),
    /// Attach a probe script to a running kernel (boot --control).
    Attach(cmd::attach::Args),
    /// List the probes loaded in a running kernel.
    Ps(cmd::ps::Args),
    /// Detach a probe object from a running kernel.
    Detach(cmd::detach::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(a) => cmd::verify::run(a),
        Command::List(a) => cmd::list::run(a),
        Command::Asm(a) => cmd::asm::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Exec(a) => cmd::exec::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Boot(a) => cmd::boot::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Attach(a) => cmd::attach::run(a),
        Command::Ps(a) => cmd::ps::run(a),
        Command::Detach(a) => cmd::detach::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
