//! `capscope verify`: run the verifier on raw bytecode or on a script's
//! programs, exactly as the kernel will.
//!
//! ```text
//! capscope verify --raw FILE.bin --attach POINT [--map KIND:K:V:N]... [--emit verifier-log]
//! capscope verify SCRIPT [--emit verifier-log]
//! ```
//!
//! Exit codes: 0 accepted (one summary line per program), 1 rejected (the
//! rejection rendered with codespan, on the script line when there is a
//! script, else on a numbered listing of the bytecode), 2 other failures.

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::{Insn, Op, slots_from_bytes};
use capscope_bytecode::object::{MapDef, ProgramDef};
use capscope_verifier::{Options, Rejection, Verified};

use crate::{diagnostics, mapspec};

/// What `--emit` shows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// The abstract state before every analysed instruction.
    VerifierLog,
}

/// Verify raw bytecode or a script's programs.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A probe script to compile and verify.
    #[arg(
        value_name = "SCRIPT",
        required_unless_present = "raw",
        conflicts_with = "raw"
    )]
    script: Option<PathBuf>,
    /// Raw little-endian bytecode (as `capscope asm` writes it).
    #[arg(long, value_name = "FILE.bin", requires = "attach")]
    raw: Option<PathBuf>,
    /// The attach point of the raw program (`capscope list` names them).
    #[arg(long, value_name = "POINT")]
    attach: Option<String>,
    /// A map of the raw program, numbered from 0: KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES.
    #[arg(long = "map", value_name = "SPEC")]
    maps: Vec<String>,
    /// Also print an intermediate form.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = Options {
        log: args.emit == Some(Emit::VerifierLog),
        ..Options::default()
    };
    if let Some(path) = &args.raw {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let slots = slots_from_bytes(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let name = args.attach.as_deref().unwrap_or_default();
        let point = AttachPoint::from_name(name)
            .ok_or_else(|| anyhow!("`{name}` is not an attach point (see `capscope list`)"))?;
        let maps = mapspec::parse_all(&args.maps)?;
        let ok = check_raw(&path.display().to_string(), &slots, point, &maps, &opts)?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let Some(path) = &args.script else {
        return Err(anyhow!("give a SCRIPT or --raw FILE.bin --attach POINT"));
    };
    if !args.maps.is_empty() {
        return Err(anyhow!(
            "--map is for raw programs; a script declares its own maps"
        ));
    }
    let source =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.display().to_string();
    let compiled = match capscope_lang::compile(&source) {
        Ok(c) => c,
        Err(e) => {
            let mut err = diagnostics::stderr();
            capscope_lang::emit(&mut err, &e.diagnostics, &name, &source)?;
            return Ok(ExitCode::from(1));
        }
    };
    let mut all_ok = true;
    for p in &compiled.object.programs {
        all_ok &= check_program(&name, &source, p, &compiled.object.maps, &opts)?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Verify, timing only the verifier.
fn timed(
    insns: &[Insn],
    point: AttachPoint,
    maps: &[MapDef],
    opts: &Options,
) -> (Result<Verified, Rejection>, u128) {
    let t = Instant::now();
    let r = capscope_verifier::verify_insns(insns, point, maps, opts);
    (r, t.elapsed().as_micros())
}

fn summary(what: &str, insns: &[Insn], v: &Verified, us: u128) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let Some(log) = &v.log {
        write!(out, "{log}")?;
    }
    writeln!(
        out,
        "{what}: accepted: {} instructions, {} steps, {} states (peak {}), {us} µs",
        insns.len(),
        v.stats.insns_processed,
        v.stats.states_stored,
        v.stats.peak_states
    )?;
    Ok(())
}

fn check_raw(
    name: &str,
    slots: &[Insn],
    point: AttachPoint,
    maps: &[MapDef],
    opts: &Options,
) -> anyhow::Result<bool> {
    match timed(slots, point, maps, opts) {
        (Ok(v), us) => {
            summary(name, slots, &v, us)?;
            Ok(true)
        }
        (Err(r), _) => {
            let (listing, lines) = listing(slots);
            let span = lines.get(r.insn.as_usize()).cloned().unwrap_or(0..0);
            let d = diagnostics::rejection(&r, point.name(), span);
            let mut err = diagnostics::stderr();
            diagnostics::emit(&mut err, &format!("{name} (disassembled)"), &listing, &d)?;
            Ok(false)
        }
    }
}

fn check_program(
    name: &str,
    source: &str,
    p: &ProgramDef,
    maps: &[MapDef],
    opts: &Options,
) -> anyhow::Result<bool> {
    match timed(&p.insns, p.attach.point, maps, opts) {
        (Ok(v), us) => {
            summary(&p.name, &p.insns, &v, us)?;
            Ok(true)
        }
        (Err(mut r), _) => {
            r.span = p.span_of(r.insn);
            let mut err = diagnostics::stderr();
            match r.span {
                Some(_) => {
                    let span = diagnostics::source_range(r.span, source);
                    diagnostics::emit(
                        &mut err,
                        name,
                        source,
                        &diagnostics::rejection(&r, &p.name, span),
                    )?;
                }
                None => {
                    let (listing, lines) = listing(&p.insns);
                    let span = lines.get(r.insn.as_usize()).cloned().unwrap_or(0..0);
                    let d = diagnostics::rejection(&r, &p.name, span);
                    diagnostics::emit(
                        &mut err,
                        &format!("{} (disassembled)", p.name),
                        &listing,
                        &d,
                    )?;
                }
            }
            Ok(false)
        }
    }
}

/// A numbered disassembly and the byte range of each slot's line.
fn listing(slots: &[Insn]) -> (String, Vec<Range<usize>>) {
    let mut text = String::new();
    let mut lines = vec![0..0; slots.len()];
    let mut pc = 0;
    while pc < slots.len() {
        let start = text.len();
        let (line, n) = match Op::decode(&slots[pc..]) {
            Ok(op) => (format!("{pc:>5}: {op}"), op.slots()),
            Err(_) => {
                let b = slots[pc].to_bytes();
                (format!("{pc:>5}: .raw {b:02x?}"), 1)
            }
        };
        text.push_str(&line);
        lines[pc] = start..text.len();
        text.push('\n');
        pc += n;
    }
    (text, lines)
}
