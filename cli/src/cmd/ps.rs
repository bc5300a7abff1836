//! `capscope ps --control PATH`: the probe objects loaded in a running
//! kernel, with per-program run counts and run time and per-map drop
//! counts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use capscope_control::{Listing, Reply, Request};
use capscope_kernel_hooks::ObjectInfo;

use crate::session::Client;

/// List the probes loaded in a running kernel.
#[derive(clap::Args)]
#[command(
    after_long_help = "Example:\n    capscope ps --control /tmp/capscope.sock\n\n\
Run time is estimated from one timed run in 64, scaled to all runs.\n\
Objects listed as `detached` have stopped; their session is reading\n\
their final output."
)]
pub struct Args {
    /// The control socket `capscope boot --control PATH` serves.
    #[arg(long, value_name = "PATH")]
    control: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut client = Client::connect(&args.control, Duration::ZERO)?;
    client.hello()?;
    let listing = match client.request(&Request::List)? {
        Reply::Listing(l) => l,
        other => anyhow::bail!("unexpected answer to the listing: {other:?}"),
    };
    let mut out = std::io::stdout().lock();
    print(&mut out, &listing).context("writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// The listing as a table: one line per object, then its programs and
/// maps indented.
pub fn print(out: &mut dyn Write, l: &Listing) -> std::io::Result<()> {
    let objects: Vec<(&ObjectInfo, &str)> = l
        .objects
        .iter()
        .map(|o| (o, "attached"))
        .chain(l.parked.iter().map(|o| (o, "detached")))
        .collect();
    if objects.is_empty() {
        writeln!(out, "no probes loaded")?;
    } else {
        writeln!(
            out,
            "{:>4}  {:<9} {:>7} {:>10}",
            "ID", "STATE", "PROBES", "MEMORY"
        )?;
    }
    for (o, state) in objects {
        writeln!(
            out,
            "{:>4}  {:<9} {:>7} {:>10}",
            o.id.0,
            state,
            o.programs.len(),
            bytes(o.memory)
        )?;
        for p in &o.programs {
            let per_run = p.run_ns.checked_div(p.runs).unwrap_or(0);
            writeln!(
                out,
                "      probe {:<24} runs {:>10}  time {:>10}  ({} ns/run, {} insns, {} code)",
                p.name,
                p.runs,
                duration(p.run_ns),
                per_run,
                p.insns,
                bytes(p.code_bytes)
            )?;
        }
        for m in &o.maps {
            writeln!(
                out,
                "      map   {:<24} {:<12} entries {:>8}/{:<8} drops {}",
                m.name,
                m.kind.to_string(),
                m.len,
                m.max_entries,
                m.drops
            )?;
        }
    }
    for (point, n) in &l.status.missed {
        writeln!(
            out,
            "missed: {n} {} events (their CPU was already running a probe)",
            point.name()
        )?;
    }
    writeln!(
        out,
        "probe memory: {} of {} in use",
        bytes(l.status.memory_in_use),
        bytes(l.status.memory_limit)
    )
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 << 20 => format!("{} MiB", n >> 20),
        n if n >= 10 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

fn duration(ns: u64) -> String {
    match ns {
        n if n >= 10_000_000_000 => format!("{} s", n / 1_000_000_000),
        n if n >= 10_000_000 => format!("{} ms", n / 1_000_000),
        n if n >= 10_000 => format!("{} us", n / 1_000),
        n => format!("{n} ns"),
    }
}
