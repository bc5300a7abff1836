//! `capscope attach --control PATH (-e PROGRAM | FILE)`: attach probes to
//! a kernel that is already running (`capscope boot --control PATH`),
//! stream their output, and on Ctrl-C or `exit()` detach and print the
//! maps.
//!
//! The script is compiled and verified on the host first (early errors,
//! rendered with codespan); the kernel verifies it again, and a rejection
//! there is rendered on the script the same way.

use std::path::PathBuf;

use anyhow::Context as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use capscope_bytecode::object::ProbeObject;
use capscope_control::LoadTiming;

use crate::cmd::check::Script;
use crate::diagnostics;
use crate::output::{OutputArgs, Printer};
use crate::session::{self, Client, End, LoadFailure, Probe};
use crate::symbolize::{self, Symbolizer};

/// Attach a probe script to a running kernel.
#[derive(clap::Args)]
#[command(after_long_help = ATTACH_HELP)]
pub struct Args {
    /// The control socket `capscope boot --control PATH` serves.
    #[arg(long, value_name = "PATH")]
    control: PathBuf,
    #[command(flatten)]
    script: Script,
    #[command(flatten)]
    output: OutputArgs,
    /// Detach after this many seconds, as if Ctrl-C had been pressed.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Print where the attach time went (host compile and verify,
    /// transfer, in-kernel decode, verify, JIT and attach) on stderr.
    #[arg(long)]
    timing: bool,
    #[command(flatten)]
    testing: Testing,
}

/// Flags for testing the kernel's side of the pipeline (hidden).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Testing {
    /// Skip the host's verifier, so only the kernel's checks the programs
    /// (its rejections are rendered like the host's).
    #[arg(long, hide = true)]
    pub no_host_verify: bool,
    /// Load this serialized probe object (`ProbeObject::to_bytes`) instead
    /// of the script's compilation; the script is still the source its
    /// line table points into (a test's deliberately broken program).
    #[arg(long, hide = true, value_name = "FILE")]
    pub object: Option<PathBuf>,
}

const ATTACH_HELP: &str = "\
Start a kernel that keeps running in one shell:
    capscope boot --control /tmp/capscope.sock
and attach from another, as often and as many at a time as you like:
    capscope attach --control /tmp/capscope.sock -e 'irq:entry { @[args.vector] = count(); }'
    capscope ps --control /tmp/capscope.sock
    capscope detach --control /tmp/capscope.sock 1

The probes stay attached until Ctrl-C, a probe's exit(), --duration, or
`capscope detach`; then END runs and the maps are printed. If the session
dies, the broker detaches what it loaded.

Exit status: 0 when the probes ran; 1 if the script was rejected (by the
host or by the kernel); 2 on usage or connection errors.";

/// Where the host's part of the attach time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostTiming {
    /// Lexing, parsing, checking, lowering.
    pub compile: Duration,
    /// The host's verifier over every program.
    pub verify: Duration,
}

/// A script compiled (and verified) on the host.
pub struct Compiled {
    /// The object to send.
    pub object: ProbeObject,
    /// How long it took.
    pub timing: HostTiming,
}

/// Compile `source` and, unless `skip_verify`, verify every program,
/// timing both; diagnostics are printed (as by `capscope check`) and
/// `None` returned on failure.
pub fn compile(name: &str, source: &str, testing: &Testing) -> anyhow::Result<Option<Compiled>> {
    let mut err = diagnostics::stderr();
    let t0 = Instant::now();
    let mut compiled = match capscope_lang::compile(source) {
        Ok(c) => c,
        Err(e) => {
            capscope_lang::emit(&mut err, &e.diagnostics, name, source)?;
            return Ok(None);
        }
    };
    let t1 = Instant::now();
    capscope_lang::emit(&mut err, &compiled.warnings, name, source)?;
    if let Some(path) = &testing.object {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        compiled.object = ProbeObject::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a probe object: {e}", path.display()))?;
    }
    let mut rejections = Vec::new();
    if !testing.no_host_verify {
        for p in &compiled.object.programs {
            if let Err(r) = capscope_verifier::verify(p, &compiled.object.maps, &Default::default())
            {
                rejections.push((p.name.clone(), r));
            }
        }
    }
    let t2 = Instant::now();
    for (probe, r) in &rejections {
        let span = diagnostics::source_range(r.span, source);
        diagnostics::emit(
            &mut err,
            name,
            source,
            &diagnostics::rejection(r, probe, span),
        )?;
    }
    if !rejections.is_empty() {
        return Ok(None);
    }
    Ok(Some(Compiled {
        object: compiled.object,
        timing: HostTiming {
            compile: t1 - t0,
            verify: t2 - t1,
        },
    }))
}

/// The attach-time breakdown on stderr: host compile and verify, the load
/// request's round trip minus the kernel's handling (transfer), and the
/// kernel's own figures (under TCG they are emulated time).
pub fn print_timing(host: &HostTiming, rtt: Duration, k: &LoadTiming, since_start: Duration) {
    let ms = |ns: u64| ns as f64 / 1e6;
    let rtt_ns = rtt.as_nanos() as u64;
    let transfer = rtt_ns.saturating_sub(k.handling_ns());
    eprintln!(
        "capscope: attach timing: host compile {:.3} ms, host verify {:.3} ms, transfer {:.3} ms \
         (of which receiving the object {:.3} ms), kernel decode {:.3} ms, verify {:.3} ms, \
         JIT {:.3} ms, attach {:.3} ms; load round trip {:.3} ms; command start to live {:.3} ms",
        host.compile.as_secs_f64() * 1e3,
        host.verify.as_secs_f64() * 1e3,
        ms(transfer),
        ms(k.receive_ns),
        ms(k.decode_ns),
        ms(k.verify_ns),
        ms(k.jit_ns),
        ms(k.attach_ns),
        ms(rtt_ns),
        since_start.as_secs_f64() * 1e3,
    );
}

/// The kernel image's path if it was built (for kernel-stack symbols).
fn kernel_image() -> Option<PathBuf> {
    let p = capscope_kernel_runner::repo_root()
        .join("kernel/target/x86_64-unknown-linux-gnu/release/capscope-kernel");
    p.exists().then_some(p)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let t_start = Instant::now();
    let (name, source) = args.script.load()?;
    let Some(compiled) = compile(&name, &source, &args.testing)? else {
        return Ok(ExitCode::from(1));
    };
    let _ = session::interrupt_flag();
    let mut client = Client::connect(&args.control, Duration::ZERO)?;
    let info = client.hello()?;
    let t_load = Instant::now();
    let (mut probe, loaded) = match Probe::load(&mut client, compiled.object.clone(), info.cpus) {
        Ok(x) => x,
        Err(LoadFailure::Refused(e)) => {
            session::render::emit_load_error(&name, &source, &compiled.object, &e)?;
            return Ok(ExitCode::from(1));
        }
        Err(LoadFailure::Session(e)) => return Err(e.into()),
    };
    let rtt = t_load.elapsed();
    // The probes are live. Symbols are loaded only now (parsing the
    // kernel's ELF takes longer than the whole attach); nothing printed
    // before this point names a stack.
    Printer::stdio(args.output.format, Symbolizer::none()).attached(loaded.programs as usize)?;
    if args.timing {
        print_timing(&compiled.timing, rtt, &loaded.timing, t_start.elapsed());
    }
    let workload = symbolize::workload_elf(&info.workload);
    let kernel = kernel_image();
    let (symbols, errors) = Symbolizer::load(
        workload.exists().then_some(workload.as_path()),
        kernel.as_deref(),
    );
    for e in errors {
        eprintln!("capscope: stacks print as addresses: {e}");
    }
    let mut printer = Printer::stdio(args.output.format, symbols);
    let until = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let end = session::stream(&mut client, &mut probe, &mut printer, false, || {
        until.is_some_and(|u| Instant::now() >= u)
    })?;
    match end {
        End::KernelGone if until.is_some_and(|u| Instant::now() >= u) => {}
        End::KernelGone => anyhow::bail!("the control channel closed (the kernel stopped)"),
        _ => {}
    }
    probe.finish(&mut client, &mut printer)?;
    Ok(ExitCode::SUCCESS)
}
