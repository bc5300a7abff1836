//! `capscope boot [--workload NAME] [--control PATH] [-- QEMU ARGS]`: build
//! the reference kernel if needed, boot it under QEMU with one workload,
//! stream the console, and exit with the workload's status.
//!
//! With `--control PATH` the kernel keeps running after its workload
//! (`control=serve`) and this process becomes the control channel's
//! broker: it owns QEMU's socket and serves PATH to any number of
//! `capscope attach`, `ps` and `detach` sessions (see
//! [`crate::session::broker`]). It runs until Ctrl-C, then stops QEMU.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use capscope_kernel_runner::{self as runner, Boot, Flavor, Outcome};

use crate::session::{self, broker, client};

/// Boot the reference kernel with a workload.
#[derive(clap::Args)]
#[command(after_long_help = BOOT_HELP)]
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
    /// Keep the kernel running after its workload and serve the control
    /// channel on this Unix socket, for `capscope attach`, `ps` and
    /// `detach` (any number of sessions, one after another or at once).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// With --control: hold the workload at its first instruction until
    /// the first probe is attached, so that session sees the whole run.
    #[arg(long, requires = "control")]
    hold: bool,
    /// Stop QEMU after this many seconds (0: never). Default: 600, or
    /// never with --control (the kernel then keeps serving the host).
    #[arg(long)]
    timeout: Option<u64>,
    /// Extra QEMU arguments.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

const BOOT_HELP: &str = "\
Examples:
    capscope boot -w leaky                    # run a workload, exit with its status
    capscope boot -w syscalls --icount        # instruction-exact timing
    capscope boot --control /tmp/capscope.sock
        then, from other shells:
    capscope attach --control /tmp/capscope.sock -e 'irq:entry { @[args.vector] = count(); }'
    capscope ps --control /tmp/capscope.sock

Exit status: the workload's (127 if the kernel failed, 125 if QEMU died or
timed out); with --control, 0 after Ctrl-C, SIGTERM or SIGHUP, which
also stop QEMU.";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let qemu = runner::ensure_qemu(true)?;
    let flavor = if args.no_hooks {
        Flavor::NoHooks
    } else {
        Flavor::Hooks
    };
    eprintln!("capscope: building the kernel ({flavor:?}) if needed");
    let kernel = runner::build_kernel(flavor)?;
    let timeout = args
        .timeout
        .unwrap_or(if args.control.is_some() { 0 } else { 600 });
    let timeout_d = if timeout == 0 {
        Duration::MAX
    } else {
        Duration::from_secs(timeout)
    };
    let Some(listen) = args.control.clone() else {
        let boot = Boot {
            kvm: args.kvm,
            icount: args.icount,
            qemu_args: args.qemu_args,
            timeout: timeout_d,
            ..Boot::new(&args.workload)
        };
        let run = runner::boot_streamed(&qemu, &kernel, &boot).context("booting QEMU")?;
        return Ok(report(run.outcome, timeout));
    };
    if args.no_hooks {
        anyhow::bail!("--control needs probe support: drop --no-hooks");
    }
    // QEMU's own socket: only the broker connects to it.
    let qemu_sock = client::temp_socket("qemu");
    let _ = std::fs::remove_file(&qemu_sock);
    let boot = Boot {
        kvm: args.kvm,
        icount: args.icount,
        control: Some(qemu_sock.clone()),
        serve: true,
        qemu_args: args.qemu_args,
        timeout: timeout_d,
        ..Boot::new(&args.workload)
    };
    let stop = session::interrupt_flag();
    if timeout != 0 {
        // --timeout ends the broker (and so QEMU) like Ctrl-C.
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(timeout));
            eprintln!("capscope: timed out after {timeout} s");
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let mut cmd = boot.command(&qemu, &kernel);
    // Ctrl-C stops the broker, which then stops QEMU (dropping `guest`).
    cmd.process_group(0);
    let mut guest = runner::spawn(cmd, |b| {
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(b);
        let _ = o.flush();
    })?;
    let served = (|| -> anyhow::Result<()> {
        let kernel_conn = client::connect_stream(&qemu_sock, Duration::from_secs(20))?;
        eprintln!(
            "capscope: serving the control channel on {}",
            listen.display()
        );
        // The broker returns when QEMU closes its socket (the kernel
        // exited) or on Ctrl-C.
        broker::serve(
            kernel_conn,
            &listen,
            broker::Policy { hold: args.hold },
            &stop,
        )
        .with_context(|| format!("serving {}", listen.display()))
    })();
    let _ = std::fs::remove_file(&listen);
    let _ = std::fs::remove_file(&qemu_sock);
    served?;
    match guest.try_wait()? {
        Some(outcome) => Ok(report(outcome, timeout)),
        None => {
            // Ctrl-C: `guest` is dropped, which kills QEMU.
            eprintln!("capscope: stopping the kernel");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(outcome: Outcome, timeout: u64) -> ExitCode {
    match outcome {
        Outcome::Exited(_) => {}
        Outcome::KernelFailure => eprintln!("capscope: the kernel failed (see the report above)"),
        Outcome::TimedOut => eprintln!("capscope: timed out after {timeout} s; QEMU was killed"),
        Outcome::Qemu(code) => eprintln!("capscope: QEMU exited with {code:?}"),
    }
    ExitCode::from(outcome.exit_code())
}
