//! `capscope boot [--workload NAME] [-- QEMU ARGS]`: build the reference
//! kernel if needed, boot it under QEMU with one workload, stream the
//! console, and exit with the workload's status.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use capscope_kernel_runner::{self as runner, Boot, Flavor, Outcome};

/// Boot the reference kernel with a workload.
#[derive(clap::Args)]
pub struct Args {
    /// The workload: leaky, overmap, protocol, pingpong, pagefaults,
    /// syscalls, timer or badargs.
    #[arg(short, long, default_value = "leaky")]
    workload: String,
    /// Use KVM instead of TCG (only where hardware virtualization works).
    #[arg(long)]
    kvm: bool,
    /// Run with `-icount shift=0`: the guest TSC counts instructions, so the
    /// `syscalls` workload's "cycles per call" is instructions per call.
    #[arg(long)]
    icount: bool,
    /// Boot the kernel built with the hook call sites compiled out.
    #[arg(long)]
    no_hooks: bool,
    /// Serve the control channel (COM2) on this Unix socket; the kernel
    /// then waits for the host before the workload starts and before its
    /// teardown (see docs/kernel.md).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Kill QEMU after this many seconds (0: never). Default: 600, or
    /// never with --control (the kernel then keeps serving the host).
    #[arg(long)]
    timeout: Option<u64>,
    /// Extra QEMU arguments.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let qemu = runner::ensure_qemu(true)?;
    let flavor = if args.no_hooks { Flavor::NoHooks } else { Flavor::Hooks };
    eprintln!("capscope: building the kernel ({flavor:?}) if needed");
    let kernel = runner::build_kernel(flavor)?;
    let timeout = args.timeout.unwrap_or(if args.control.is_some() { 0 } else { 600 });
    let boot = Boot {
        kvm: args.kvm,
        icount: args.icount,
        control: args.control,
        qemu_args: args.qemu_args,
        timeout: if timeout == 0 { Duration::MAX } else { Duration::from_secs(timeout) },
        ..Boot::new(&args.workload)
    };
    let run = runner::boot_streamed(&qemu, &kernel, &boot).context("booting QEMU")?;
    match run.outcome {
        Outcome::Exited(_) => {}
        Outcome::KernelFailure => eprintln!("capscope: the kernel failed (see the report above)"),
        Outcome::TimedOut => eprintln!("capscope: timed out after {timeout} s; QEMU was killed"),
        Outcome::Qemu(code) => eprintln!("capscope: QEMU exited with {code:?}"),
    }
    Ok(ExitCode::from(run.outcome.exit_code()))
}
