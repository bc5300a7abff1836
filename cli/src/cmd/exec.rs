//! `capscope exec`: run a program once, in-process, on a synthetic event,
//! like Linux's `BPF_PROG_TEST_RUN`, and print r0 and the maps.
//!
//! The work is split so that other inputs and engines are small additions:
//! [`load`] turns the command line into a [`ProbeObject`] (from `--raw`
//! bytecode, or by compiling a script given with `-e` or as a FILE),
//! [`synthetic_context`] builds the event, [`execute`]
//! runs one program of an object on one [`Engine`], and [`report`] prints.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use capscope_bytecode::Op;
use capscope_bytecode::abi::context::EventHeader;
use capscope_bytecode::abi::fields::{self, FieldType};
use capscope_bytecode::abi::{AttachPoint, consts};
use capscope_bytecode::insn::{InsnIdx, slots_from_bytes};
use capscope_bytecode::interp::{self, Config, Exit, Trap};
use capscope_bytecode::model::{DEFAULT_TIME_NS, EventState, ModelEnv};
use capscope_bytecode::object::{AttachSpec, MapDef, ProbeObject, ProgramDef};
use capscope_jit::host::HostError;

use crate::cmd::exec_jit::{self, Emit};
use crate::symbolize::Symbolizer;
use crate::{mapspec, output};

/// Run a program once on a synthetic event and print r0 and the maps.
#[derive(clap::Args)]
#[command(after_long_help = EXEC_HELP)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["raw", "program", "script"])))]
pub struct Args {
    /// A probe script to compile and run, as in `-e 'cap:alloc { @[task] = count(); }'`.
    #[arg(short = 'e', long = "program", value_name = "PROGRAM")]
    program: Option<String>,
    /// A probe script file to compile and run.
    #[arg(value_name = "FILE")]
    script: Option<PathBuf>,
    /// Which program of a script runs, by probe name (`cap:alloc`,
    /// `syscall:enter:map`); needed when the script has several.
    #[arg(long, value_name = "PROBE")]
    probe: Option<String>,
    /// Raw little-endian bytecode (8 bytes per instruction, 16 per lddw).
    #[arg(long, value_name = "FILE.bin", requires = "attach")]
    raw: Option<PathBuf>,
    /// The attach point whose context the program gets (`capscope list`).
    #[arg(long, value_name = "POINT")]
    attach: Option<String>,
    /// A map for `lddw rX, map[N]`, numbered from 0 in the order given.
    /// KIND: hash, array, percpu_hash, percpu_array, lru_hash, ringbuf
    /// (key and value 0, MAX_ENTRIES = bytes) or stack_trace.
    #[arg(long = "map", value_name = "KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES", value_parser = mapspec::parse)]
    maps: Vec<MapDef>,
    /// Set a context field, by its name in `capscope list -v`; the value is
    /// a number (decimal, 0x hex, negative for signed fields) or a named
    /// constant such as KIND_GATE or SYS_MAP.
    #[arg(long = "ctx", value_name = "FIELD=VALUE", value_parser = parse_ctx)]
    ctx: Vec<CtxSetting>,
    /// The engine that runs the program.
    #[arg(long, value_enum, default_value_t = Engine::Jit)]
    engine: Engine,
    /// Run the program N times on the same maps and print the mean ns per
    /// run for the chosen engine (the maps show all N runs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    bench: Option<u64>,
    /// Print the JIT's Cranelift IR (`clif`) or machine code (`asm`).
    /// (JIT only.)
    #[arg(long, value_enum, value_name = "clif|asm")]
    emit: Option<Emit>,
    /// The most instructions the run may execute.
    #[arg(long, default_value_t = Config::default().fuel)]
    fuel: u64,
    /// CPUs that per-CPU maps keep values for.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    cpus: u32,
    #[command(flatten)]
    output: output::OutputArgs,
}

const EXEC_HELP: &str = "\
Runs one program once, in-process, on a synthetic event of the attach
point, like Linux's BPF_PROG_TEST_RUN: no kernel is involved. The context
header defaults to timestamp_ns=1000000000 cpu=0 task=1 thread=1 (the
helpers see the same task and CPU, and ktime_get_ns starts at the
timestamp); every other field is 0 unless set with --ctx.

Example:
    capscope exec --raw count.bin --attach cap:alloc \\
        --map hash:4:8:64 --ctx kind=KIND_GATE --ctx slot=3
    capscope exec -e 'cap:alloc { @[args.kind] = count(); }' --ctx kind=KIND_GATE
    capscope exec probes/cap-leak.probe --probe cap:alloc --ctx slot=3

A script is compiled and verified first (its diagnostics are printed as by
`capscope check`); its maps come from the script, and --probe picks the
program to run when it has several. Records it writes (printf, print,
clear, zero, exit) are carried out after the run.

The memory-checked interpreter stops at the first instruction that would
touch memory outside the context, its stack and the map values it looked
up, read an unwritten register or stack byte, or leak a kernel address.

Exit status: 0 when the program ran to exit; 1 if it is invalid or
trapped (the message names the instruction); 2 on usage or I/O errors.";

/// Which engine runs the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Verified, then compiled to x86-64 by the JIT (capscope-jit).
    Jit,
    /// The memory-checked reference interpreter.
    Interp,
}

/// A `--ctx` argument, parsed but not yet checked against an attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxSetting {
    field: String,
    value: String,
}

fn parse_ctx(s: &str) -> Result<CtxSetting, String> {
    let (field, value) = s.split_once('=').ok_or("expected FIELD=VALUE")?;
    if field.is_empty() || value.is_empty() {
        return Err("expected FIELD=VALUE".into());
    }
    Ok(CtxSetting {
        field: field.trim().to_string(),
        value: value.trim().to_string(),
    })
}

/// Why a `--ctx` setting cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtxError {
    /// The attach point's context has no such field.
    UnknownField {
        /// The name given.
        field: String,
        /// The point.
        point: AttachPoint,
    },
    /// Not a number or named constant.
    BadValue(String),
    /// The value does not fit the field's type.
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its type.
        ty: FieldType,
    },
}

impl fmt::Display for CtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtxError::UnknownField { field, point } => {
                let names: Vec<&str> = point.fields().iter().map(|f| f.name).collect();
                write!(
                    f,
                    "{point} has no field `{field}` (fields: {})",
                    names.join(", ")
                )
            }
            CtxError::BadValue(v) => write!(f, "`{v}` is not a number or a named constant"),
            CtxError::OutOfRange { field, ty } => {
                write!(f, "the value does not fit `{field}`, a {}", ty.name())
            }
        }
    }
}

impl std::error::Error for CtxError {}

/// A number: decimal, `0x` hex, negative, or a named constant (`KIND_GATE`).
fn parse_value(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(&h.replace('_', ""), 16).ok()
    } else if digits.starts_with(|c: char| c.is_ascii_digit()) {
        digits.replace('_', "").parse::<u64>().ok()
    } else {
        consts::lookup(digits)
    }?;
    Some(if neg { -i128::from(v) } else { i128::from(v) })
}

/// The context bytes of `point` with header defaults and `settings` applied.
pub fn synthetic_context(point: AttachPoint, settings: &[CtxSetting]) -> Result<Vec<u8>, CtxError> {
    let mut bytes = vec![0u8; point.context_size()];
    let header = [
        ("timestamp_ns", DEFAULT_TIME_NS),
        ("task", 1),
        ("thread", 1),
    ];
    for (name, v) in header {
        if let Some(f) = fields::find(point, name) {
            write_field(&mut bytes, f.offset, f.ty.size(), v);
        }
    }
    for s in settings {
        let f = fields::find(point, &s.field).ok_or_else(|| CtxError::UnknownField {
            field: s.field.clone(),
            point,
        })?;
        let v = parse_value(&s.value).ok_or_else(|| CtxError::BadValue(s.value.clone()))?;
        let (lo, hi) = match f.ty {
            FieldType::U32 => (0, i128::from(u32::MAX)),
            FieldType::Bool => (0, 1),
            FieldType::U64 => (0, i128::from(u64::MAX)),
            FieldType::I64 => (i128::from(i64::MIN), i128::from(u64::MAX)),
        };
        if v < lo || v > hi {
            return Err(CtxError::OutOfRange {
                field: f.name,
                ty: f.ty,
            });
        }
        write_field(&mut bytes, f.offset, f.ty.size(), v as u64);
    }
    Ok(bytes)
}

fn write_field(bytes: &mut [u8], offset: usize, size: usize, v: u64) {
    if let Some(dst) = bytes.get_mut(offset..offset + size) {
        dst.copy_from_slice(&v.to_le_bytes()[..size]);
    }
}

/// What the command line asks to run.
pub struct Loaded {
    /// The object (a raw program becomes a one-program object).
    pub object: ProbeObject,
    /// Which of its programs runs.
    pub program: usize,
    /// Shown in messages (the file name).
    pub source: String,
}

/// Why the input cannot run: an invalid program (exit 1).
#[derive(Debug)]
pub struct Rejected(pub String);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

fn attach_spec(name: &str) -> anyhow::Result<AttachSpec> {
    // `interval`, `interval:ms:N` or `interval:s:N` (default: 1 s).
    if let Some(rest) = name.strip_prefix("interval") {
        let period_ns = match rest.strip_prefix(':').map(|r| r.split_once(':')) {
            None if rest.is_empty() => 1_000_000_000,
            Some(Some((unit, n))) => {
                let n: u64 = n
                    .parse()
                    .with_context(|| format!("bad interval `{name}`"))?;
                let scale = match unit {
                    "s" => 1_000_000_000,
                    "ms" => 1_000_000,
                    "us" => 1_000,
                    _ => bail!("bad interval unit in `{name}` (s, ms or us)"),
                };
                n.checked_mul(scale)
                    .filter(|&p| p > 0)
                    .with_context(|| format!("bad interval `{name}`"))?
            }
            _ => bail!("bad interval `{name}` (interval:ms:N or interval:s:N)"),
        };
        return Ok(AttachSpec {
            point: AttachPoint::Interval,
            period_ns,
        });
    }
    let point = AttachPoint::from_name(name).with_context(|| {
        let names: Vec<&str> = AttachPoint::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown attach point `{name}` (one of {})",
            names.join(", ")
        )
    })?;
    Ok(AttachSpec {
        point,
        period_ns: 0,
    })
}

/// Build the object to run from the arguments. I/O and usage errors are
/// `Err` (exit 2); an invalid program is `Ok(Err(Rejected))` (exit 1).
pub fn load(args: &Args) -> anyhow::Result<Result<Loaded, Rejected>> {
    if args.program.is_some() || args.script.is_some() {
        return load_script(args);
    }
    let Some(path) = &args.raw else {
        bail!("nothing to run: give -e PROGRAM, a script FILE or --raw FILE.bin");
    };
    let attach = attach_spec(args.attach.as_deref().unwrap_or_default())?;
    let source = path.display().to_string();
    let bytes = crate::cmd::asm::read_input(path)?;
    let insns = match slots_from_bytes(&bytes) {
        Ok(s) => s,
        Err(e) => return Ok(Err(Rejected(format!("{source}: {e}")))),
    };
    if insns.is_empty() {
        return Ok(Err(Rejected(format!("{source}: the program is empty"))));
    }
    // Map shapes come from the command line: a bad one is a usage error.
    let maps = mapspec::number(args.maps.clone())?;
    let object = ProbeObject {
        maps,
        programs: vec![ProgramDef {
            name: attach.point.name().to_string(),
            attach,
            insns,
            lines: Vec::new(),
        }],
        formats: Vec::new(),
    };
    // The maps passed above, so what is left is the program's fault.
    if let Err(e) = object.validate() {
        return Ok(Err(Rejected(format!("{source}: {e}"))));
    }
    Ok(Ok(Loaded {
        object,
        program: 0,
        source,
    }))
}

/// Compile and verify a script (`-e` or FILE) and pick the program to run.
fn load_script(args: &Args) -> anyhow::Result<Result<Loaded, Rejected>> {
    if args.raw.is_some() || !args.maps.is_empty() || args.attach.is_some() {
        bail!("a script brings its own attach points and maps: drop --raw, --attach and --map");
    }
    let script = crate::cmd::check::Script {
        program: args.program.clone(),
        file: args.script.clone(),
    };
    let (source, text) = script.load()?;
    let Some(compiled) = crate::cmd::check::compile_and_verify(&source, &text)? else {
        return Ok(Err(Rejected(format!("{source}: the script was rejected"))));
    };
    let object = compiled.object;
    let names: Vec<&str> = object.programs.iter().map(|p| p.name.as_str()).collect();
    let program = match &args.probe {
        Some(want) => names.iter().position(|n| n == want).with_context(|| {
            format!(
                "{source} has no probe `{want}` (it has {})",
                names.join(", ")
            )
        })?,
        None if names.len() == 1 => 0,
        None if names.is_empty() => {
            return Ok(Err(Rejected(format!("{source}: the script has no probes"))));
        }
        None => bail!(
            "{source} has several probes ({}): choose one with --probe",
            names.join(", ")
        ),
    };
    Ok(Ok(Loaded {
        object,
        program,
        source,
    }))
}

/// The outcome of one run: the result and the environment afterwards.
pub struct Execution {
    /// r0 and steps (0 for the JIT, which does not count them), or the trap.
    pub result: Result<Exit, Trap>,
    /// The maps, as the run left them.
    pub env: ModelEnv,
    /// The engine that ran.
    pub engine: Engine,
    /// With `--bench N`: N and the mean nanoseconds per run.
    pub bench: Option<(u64, f64)>,
}

/// Run program `program` of `obj` `runs` times over `ctx` with a fresh
/// model environment for the object's maps. The JIT verifies the program
/// first and refuses it if the verifier does.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    obj: &ProbeObject,
    program: usize,
    ctx: &[u8],
    event: EventState,
    engine: Engine,
    cfg: &Config,
    runs: u64,
    emit: Option<Emit>,
) -> anyhow::Result<Result<Execution, HostError>> {
    let mut env = ModelEnv::new(&obj.maps, event);
    let mut bench = None;
    let result = match (engine, obj.programs.get(program)) {
        (Engine::Interp, Some(p)) if runs > 1 => {
            let (result, ns) = exec_jit::bench_interp(p, &mut env, ctx, cfg, runs);
            bench = Some((runs, ns));
            result
        }
        (Engine::Interp, Some(p)) => interp::run(&p.insns, ctx, &mut env, cfg),
        (Engine::Jit, Some(p)) => match exec_jit::run(p, &mut env, ctx, emit, runs)? {
            Ok(run) => {
                bench = run.ns_per_run.map(|ns| (runs, ns));
                Ok(Exit {
                    r0: run.r0,
                    steps: 0,
                })
            }
            Err(e) => return Ok(Err(e)),
        },
        (_, None) => Err(Trap {
            at: InsnIdx(0),
            kind: interp::TrapKind::FellOffEnd,
        }),
    };
    Ok(Ok(Execution {
        result,
        env,
        engine,
        bench,
    }))
}

/// The event the helpers see: the context header's CPU, task, thread and
/// time.
pub fn event_for(ctx: &[u8], cpus: u32) -> EventState {
    let word = |off: usize, n: usize| {
        let mut b = [0u8; 8];
        if let Some(src) = ctx.get(off..off + n) {
            b[..n].copy_from_slice(src);
        }
        u64::from_le_bytes(b)
    };
    let header = EventHeader {
        timestamp_ns: word(0, 8),
        cpu: word(8, 4) as u32,
        task: word(12, 4) as u32,
        thread: word(16, 4) as u32,
        _reserved: 0,
    };
    let mut e = EventState::for_header(&header);
    e.ncpus = e.ncpus.max(cpus);
    e
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = match load(&args)? {
        Ok(l) => l,
        Err(rejected) => {
            eprintln!("error: {rejected}");
            return Ok(ExitCode::from(1));
        }
    };
    let Some(prog) = loaded.object.programs.get(loaded.program) else {
        bail!("{}: no program {}", loaded.source, loaded.program);
    };
    let ctx = synthetic_context(prog.attach.point, &args.ctx).context("--ctx")?;
    let cfg = Config {
        fuel: args.fuel,
        ..Config::default()
    };
    let exec = execute(
        &loaded.object,
        loaded.program,
        &ctx,
        event_for(&ctx, args.cpus),
        args.engine,
        &cfg,
        args.bench.unwrap_or(1),
        args.emit,
    )?;
    match exec {
        Ok(mut exec) => report(&loaded, &mut exec, args.output.format),
        Err(e) => {
            // Only verified programs may run natively.
            eprintln!("error: {}: the JIT cannot run it: {e}", loaded.source);
            if matches!(e, HostError::Rejected(_)) {
                eprintln!("  (`--engine interp` runs unverified programs, memory-checked)");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Print the result, carry out a compiled object's records, and print the
/// maps; the exit code says whether the run trapped. With `-f json` the
/// result is `{"type": "result", "data": {"r0": N, "steps": N}}` (steps
/// with the interpreter), a benchmark `{"type": "bench", ...}`, and the
/// records and maps as `run` prints them.
pub fn report(
    loaded: &Loaded,
    exec: &mut Execution,
    format: output::Format,
) -> anyhow::Result<ExitCode> {
    // No ELF behind a synthetic event: stack frames print as addresses.
    let mut out = output::Printer::stdio(format, Symbolizer::none());
    let code = match &exec.result {
        Ok(exit) => {
            let signed = exit.r0 as i64;
            let extra = if signed < 0 {
                format!(", {signed}")
            } else {
                String::new()
            };
            let mut data = serde_json::json!({"r0": exit.r0});
            let mut text = format!("r0 = {} ({:#x}{extra})", exit.r0, exit.r0);
            if exec.engine == Engine::Interp {
                data["steps"] = exit.steps.into();
                text.push_str(&format!("\nsteps = {}", exit.steps));
            }
            out.message("result", &text, data).context(STDOUT)?;
            if let Some((runs, ns)) = exec.bench {
                let engine = match exec.engine {
                    Engine::Jit => "jit",
                    Engine::Interp => "interp",
                };
                out.message(
                    "bench",
                    &format!("{ns:.1} ns per run ({engine}, mean of {runs} runs)"),
                    serde_json::json!({"engine": engine, "runs": runs, "ns_per_run": ns}),
                )
                .context(STDOUT)?;
            }
            ExitCode::SUCCESS
        }
        Err(trap) => {
            eprintln!("error: {}: {trap}", loaded.source);
            if let Some(text) = loaded
                .object
                .programs
                .get(loaded.program)
                .and_then(|p| Op::decode(p.insns.get(trap.at.as_usize()..)?).ok())
            {
                eprintln!("  {:>5}: {text}", trap.at);
            }
            ExitCode::from(1)
        }
    };
    // Records and maps as the run left them, also after a trap: what it did
    // so far.
    if output::is_compiled(&loaded.object) {
        output::drain_records(&mut out, &loaded.object, &mut exec.env).context(STDOUT)?;
    }
    out.maps_at_end(&loaded.object.maps, &exec.env.snapshot())
        .context(STDOUT)?;
    Ok(code)
}

const STDOUT: &str = "cannot write to standard output";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_constants() {
        assert_eq!(parse_value("42"), Some(42));
        assert_eq!(parse_value("0x2a"), Some(42));
        assert_eq!(parse_value("-71"), Some(-71));
        assert_eq!(parse_value("KIND_GATE"), Some(4));
        assert_eq!(parse_value("SYS_MAP"), Some(8));
        assert_eq!(parse_value("-EPROTO"), Some(-71));
        assert_eq!(parse_value("bogus"), None);
    }

    #[test]
    fn contexts() {
        let set = |f: &str, v: &str| CtxSetting {
            field: f.into(),
            value: v.into(),
        };
        let ctx = synthetic_context(
            AttachPoint::CapAlloc,
            &[set("slot", "3"), set("kind", "KIND_GATE")],
        )
        .unwrap();
        assert_eq!(ctx.len(), AttachPoint::CapAlloc.context_size());
        assert_eq!(
            u64::from_le_bytes(ctx[0..8].try_into().unwrap()),
            DEFAULT_TIME_NS
        );
        assert_eq!(ctx[12], 1, "task defaults to 1");
        let slot = fields::find(AttachPoint::CapAlloc, "slot").unwrap().offset;
        assert_eq!(ctx[slot], 3);
        let kind = fields::find(AttachPoint::CapAlloc, "kind").unwrap().offset;
        assert_eq!(ctx[kind], 4);
        let ret = synthetic_context(AttachPoint::SyscallExit, &[set("ret", "-EPROTO")]).unwrap();
        assert_eq!(i64::from_le_bytes(ret[32..40].try_into().unwrap()), -71);
        assert!(matches!(
            synthetic_context(AttachPoint::CapAlloc, &[set("vector", "1")]),
            Err(CtxError::UnknownField { .. })
        ));
        assert!(matches!(
            synthetic_context(AttachPoint::CapAlloc, &[set("slot", "0x100000000")]),
            Err(CtxError::OutOfRange { .. })
        ));
        assert!(matches!(
            synthetic_context(AttachPoint::CapMap, &[set("grant", "2")]),
            Err(CtxError::OutOfRange { .. })
        ));
        assert!(matches!(
            synthetic_context(AttachPoint::CapAlloc, &[set("slot", "-1")]),
            Err(CtxError::OutOfRange { .. })
        ));
    }

    #[test]
    fn intervals() {
        assert_eq!(attach_spec("interval").unwrap().period_ns, 1_000_000_000);
        assert_eq!(attach_spec("interval:ms:5").unwrap().period_ns, 5_000_000);
        assert!(attach_spec("interval:ms:0").is_err());
        assert!(attach_spec("interval:h:1").is_err());
        assert_eq!(attach_spec("cap:map").unwrap().point, AttachPoint::CapMap);
        assert!(attach_spec("cap:nope").is_err());
    }
}
