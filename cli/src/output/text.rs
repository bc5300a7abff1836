//! Text output, as bpftrace prints it.
//!
//! - `@name[key, key]: value`, `@name: value` without keys; a blank line
//!   after each map;
//! - stacks one frame per line, indented eight spaces, after the key or
//!   the colon;
//! - histograms as `@name[key]:` and a table of `[lo, hi)` buckets with a
//!   right-aligned count and a 52-column `@` bar scaled to the fullest
//!   bucket (label 16 columns wide, count 8, as bpftrace's `hist_to_str`);
//! - `count 4, average 7, total 30` for `stats`.

use std::io::{self, Write};

use capscope_bytecode::model::MapSnapshot;
use capscope_bytecode::object::{MapDef, MapKind};

use super::value::{Agg, Body, Bucket, MapView, Val, hex};

/// Width of a histogram bar at its fullest, as in bpftrace.
const BAR_WIDTH: u64 = 52;

/// Control characters in strings print escaped, so a probe that records
/// a terminal escape cannot rewrite the user's screen.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

/// One decoded value as bpftrace shows it.
pub fn val(v: &Val) -> String {
    match v {
        Val::Uint(n) => n.to_string(),
        Val::Int(n) => n.to_string(),
        Val::Hex(n) => format!("{n:#x}"),
        Val::Bool(b) => b.to_string(),
        Val::Str(s) => escape(s),
        Val::Sym { name, .. } => name.clone(),
        Val::Stack(Ok(frames)) => {
            // bpftrace's stacks start on a new line, one indented frame
            // each, and end with a newline.
            let mut s = String::from("\n");
            for f in frames {
                s.push_str("        ");
                s.push_str(&escape(&f.to_string()));
                s.push('\n');
            }
            s
        }
        Val::Stack(Err(why)) => format!("<{why}>"),
    }
}

fn tuple(vals: &[Val]) -> String {
    let parts: Vec<String> = vals.iter().map(val).collect();
    format!("({})", parts.join(", "))
}

/// A plain value: one field as it is, several as a tuple.
fn fields(vals: &[Val]) -> String {
    match vals {
        [one] => val(one),
        many => tuple(many),
    }
}

/// The value of a row.
pub fn agg(a: &Agg) -> String {
    match a {
        Agg::Num(n) => n.to_string(),
        Agg::Stats {
            count,
            average,
            total,
        } => format!("count {count}, average {average}, total {total}"),
        Agg::Nothing => "(none)".into(),
        Agg::Plain(vals) => fields(vals),
        Agg::PerCpu(cpus) => {
            let parts: Vec<String> = cpus.iter().map(|c| fields(c)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// `[k1, k2]`, or nothing for a map without keys.
fn key(keyed: bool, vals: &[Val]) -> String {
    if !keyed {
        return String::new();
    }
    let parts: Vec<String> = vals.iter().map(val).collect();
    format!("[{}]", parts.join(", "))
}

/// Print a decoded map, then a blank line.
pub fn map(w: &mut dyn Write, v: &MapView) -> io::Result<()> {
    match &v.body {
        Body::Rows(rows) => {
            for r in rows {
                let value = agg(&r.value);
                // A multi-line value (a stack) starts on the next line and
                // its last frame ends the row, as in bpftrace.
                let (sep, value) = match value.strip_prefix('\n') {
                    Some(lines) => (":\n", lines.trim_end_matches('\n')),
                    None => (": ", value.as_str()),
                };
                writeln!(w, "{}{}{sep}{value}", v.name, key(v.keyed, &r.key))?;
            }
        }
        Body::Hist(groups) => {
            for (i, g) in groups.iter().enumerate() {
                if i > 0 {
                    writeln!(w)?;
                }
                writeln!(w, "{}{}:", v.name, key(v.keyed, &g.key))?;
                hist(w, &g.buckets)?;
            }
        }
    }
    writeln!(w)
}

/// A histogram's table.
pub fn hist(w: &mut dyn Write, buckets: &[Bucket]) -> io::Result<()> {
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    for b in buckets {
        let bar = (u128::from(b.count) * u128::from(BAR_WIDTH) / u128::from(max)) as usize;
        writeln!(
            w,
            "{:<16}{:>8} |{:<52}|",
            b.label,
            b.count,
            "@".repeat(bar.min(BAR_WIDTH as usize))
        )?;
    }
    Ok(())
}

/// A map without a display (a raw program's): a header line, then
/// `@name[KEYHEX]: VALUEHEX` lines (per-CPU maps: `cpuN=VALUEHEX` per
/// CPU); ring buffers list their records.
pub fn raw_map(w: &mut dyn Write, def: &MapDef, m: &MapSnapshot) -> io::Result<()> {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if def.kind == MapKind::RingBuf {
        writeln!(
            w,
            "{}: ringbuf max_entries={}, {}, {} drops",
            def.name,
            def.max_entries,
            count(m.records.len(), "record", "records"),
            m.drops
        )?;
        for r in &m.records {
            writeln!(w, "  record {}", hex(r))?;
        }
        return Ok(());
    }
    writeln!(
        w,
        "{}: {} key_size={} value_size={} max_entries={}, {}, {} drops",
        def.name,
        def.kind,
        def.key_size,
        def.value_size,
        def.max_entries,
        count(m.entries.len(), "entry", "entries"),
        m.drops
    )?;
    for e in &m.entries {
        let value = if def.kind.per_cpu() {
            e.values
                .iter()
                .enumerate()
                .map(|(cpu, v)| format!("cpu{cpu}={}", hex(v)))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            e.values
                .iter()
                .map(|v| hex(v))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let name = def.name.strip_prefix('@').unwrap_or(&def.name);
        writeln!(w, "@{name}[{}]: {value}", hex(&e.key))?;
    }
    Ok(())
}

/// What was lost when a map of `kind` dropped events, for the warning
/// (`WARNING: N <this>`).
pub fn drop_reason(name: &str, kind: MapKind, max_entries: Option<u32>) -> String {
    match kind {
        MapKind::RingBuf => format!(
            "records dropped on {name}: the ring buffer was full, so printf output or map actions were lost"
        ),
        MapKind::StackTrace => format!(
            "stacks dropped on {name} (stack-id collisions): entries that needed them show <no stack: EEXIST>"
        ),
        _ => {
            let full = max_entries.map_or(String::new(), |n| format!(" ({n} entries)"));
            format!(
                "updates dropped on {name}: the map was full{full} or busy, so its contents are incomplete"
            )
        }
    }
}
