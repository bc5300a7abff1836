//! `capscope run [--workload NAME] (-e PROGRAM | FILE)`: the whole pipeline
//! in one command, bpftrace-style.
//!
//! In order: compile and verify the script on the host (errors rendered
//! with codespan, exit 1); build the kernel if needed; boot it with the
//! workload and the control channel; at the *ready* stop, before the
//! workload's first instruction, load the object (the kernel verifies,
//! JIT-compiles and attaches it) and print `Attaching N probes...`;
//! continue; print printf output as it arrives; at the *finished* stop
//! (or on `exit()` or Ctrl-C) detach — `END` runs — drain, print the maps
//! that are printed at the end, continue, and let the kernel shut down.
//! The kernel's and the workload's console goes to stderr, so stdout holds
//! only the probes' output.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use capscope_control::{Event, Request, Stop};
use capscope_kernel_runner::{self as runner, Boot, Flavor, Outcome};

use crate::cmd::check::Script;
use crate::output::{OutputArgs, Printer};
use crate::session::{self, Client, End, LoadFailure, Probe, client};
use crate::symbolize::{self, Symbolizer};

/// Boot the reference kernel with a workload and run a probe script on it.
#[derive(clap::Args)]
#[command(after_long_help = RUN_HELP)]
pub struct Args {
    #[command(flatten)]
    script: Script,
    /// The workload: leaky, overmap, protocol, pingpong, pagefaults,
    /// syscalls, timer or badargs.
    #[arg(short, long, default_value = "leaky")]
    workload: String,
    #[command(flatten)]
    output: OutputArgs,
    /// Use KVM instead of TCG (only where hardware virtualization works).
    #[arg(long)]
    kvm: bool,
    /// Run QEMU with `-icount shift=0`: the guest TSC counts instructions,
    /// so a workload's timings (`syscalls`' cycles per call) are exact
    /// instruction counts with the probes attached (docs/performance.md).
    #[arg(long)]
    icount: bool,
    /// Stop the run (and kill QEMU) after this many seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    timeout: u64,
    /// Print where the attach time went (host compile and verify,
    /// transfer, in-kernel decode, verify, JIT and attach) on stderr.
    #[arg(long)]
    timing: bool,
    #[command(flatten)]
    testing: super::attach::Testing,
}

const RUN_HELP: &str = "\
The kernel stops before the workload's first instruction; the probes are
attached then, so they see the whole run. When the workload's main task
exits, the kernel stops again before tearing it down: the maps are read
while capabilities it leaked still exist.

Examples:
    capscope run -w syscalls -e 'syscall:enter:null { @ = count(); }'
    capscope run -w leaky probes/cap-leak.probe
    capscope run -w timer -f json -e 'irq:entry { @[args.vector] = count(); }'

Console output of the kernel and the workload goes to stderr.
Exit status: 0 when the probes ran; 1 if the script was rejected (by the
host or by the kernel); 2 on usage, build or QEMU errors.";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let t_start = Instant::now();
    let (name, source) = args.script.load()?;
    let Some(compiled) = super::attach::compile(&name, &source, &args.testing)? else {
        return Ok(ExitCode::from(1));
    };

    let qemu = runner::ensure_qemu(true)?;
    let kernel = runner::build_kernel(Flavor::Hooks)?;
    let (symbols, errors) = Symbolizer::load(
        Some(&symbolize::workload_elf(&args.workload)),
        Some(&kernel),
    );
    for e in errors {
        eprintln!("capscope: stacks print as addresses: {e}");
    }
    let mut printer = Printer::stdio(args.output.format, symbols);

    let sock = client::temp_socket("run");
    let _ = std::fs::remove_file(&sock);
    let boot = Boot {
        kvm: args.kvm,
        icount: args.icount,
        control: Some(sock.clone()),
        timeout: Duration::from_secs(args.timeout),
        ..Boot::new(&args.workload)
    };
    let mut cmd = boot.command(&qemu, &kernel);
    // Ctrl-C goes to capscope alone: it detaches, prints the maps, then
    // stops QEMU (dropping `guest` kills it on every path).
    cmd.process_group(0);
    // Install the Ctrl-C handler before QEMU can be interrupted.
    let _ = session::interrupt_flag();
    let mut guest = runner::spawn(cmd, |bytes| {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(bytes);
        let _ = e.flush();
    })?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let result = (|| -> anyhow::Result<(ExitCode, Option<End>)> {
        let mut client = Client::connect(&sock, Duration::from_secs(20))?;
        let info = client.hello()?;
        if info.stopped.is_none() {
            wait_for_stop(&mut client, &mut guest, deadline)?;
        }
        let t_load = Instant::now();
        let (mut probe, loaded) = match Probe::load(&mut client, compiled.object.clone(), info.cpus)
        {
            Ok(x) => x,
            Err(LoadFailure::Refused(e)) => {
                session::render::emit_load_error(&name, &source, &compiled.object, &e)?;
                return Ok((ExitCode::from(1), None));
            }
            Err(LoadFailure::Session(e)) => return Err(e.into()),
        };
        let rtt = t_load.elapsed();
        printer.attached(loaded.programs as usize)?;
        if args.timing {
            super::attach::print_timing(&compiled.timing, rtt, &loaded.timing, t_start.elapsed());
        }
        client.request(&Request::Continue)?;
        let end = session::stream(&mut client, &mut probe, &mut printer, true, || {
            Instant::now() > deadline || !matches!(guest.try_wait(), Ok(None))
        })?;
        if end == End::KernelGone {
            bail!("the kernel stopped before the workload finished");
        }
        probe.finish(&mut client, &mut printer)?;
        if let End::Finished(status) = end {
            // Teardown, then the kernel shuts down.
            client.request(&Request::Continue)?;
            if status != 0 {
                eprintln!("capscope: the workload exited with status {status}");
            }
        }
        Ok((ExitCode::SUCCESS, Some(end)))
    })();
    let _ = std::fs::remove_file(&sock);
    let (code, end) = result?;
    if !matches!(end, Some(End::Finished(_))) {
        // exit(), Ctrl-C or a rejected load: nothing more to see; dropping
        // `guest` stops QEMU.
        return Ok(code);
    }
    match guest
        .wait(Duration::from_secs(30))
        .context("waiting for QEMU")?
        .outcome
    {
        Outcome::Exited(_) => Ok(code),
        Outcome::KernelFailure => {
            eprintln!("capscope: the kernel failed during teardown (see the report above)");
            Ok(ExitCode::from(2))
        }
        Outcome::TimedOut | Outcome::Qemu(_) => {
            eprintln!("capscope: QEMU did not shut down cleanly; it was stopped");
            Ok(ExitCode::from(2))
        }
    }
}

/// Wait for the kernel's first stop (it may still be booting).
fn wait_for_stop(
    client: &mut Client,
    guest: &mut runner::Running,
    deadline: Instant,
) -> anyhow::Result<Stop> {
    loop {
        match client.next_event(Duration::from_millis(100))? {
            Some(Event::Stopped(s)) => return Ok(s),
            _ if Instant::now() > deadline => bail!("the kernel did not become ready in time"),
            _ => {}
        }
        if !matches!(guest.try_wait(), Ok(None)) {
            bail!("QEMU exited before the kernel became ready (see the console above)");
        }
    }
}
