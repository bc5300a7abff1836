//! Everything a session prints: maps, printf output, stacks and drop
//! warnings, as text or as JSON lines. `exec`, `run` and `attach` all
//! print through one [`Printer`], so their output is the same.
//!
//! The pipeline is: bytes (a `MapSnapshot`, as the model or the kernel's
//! control channel returns them) → [`value::view`] decodes them with the
//! map's `MapDisplay` and sorts them → [`text`] or [`json`] renders. Stacks
//! are symbolized on the way with the printer's
//! [`Symbolizer`](crate::symbolize::Symbolizer).
//!
//! Output follows bpftrace's habits, so its users need no manual:
//! `Attaching N probes...`; maps as `@name[key]: value` sorted by value;
//! `hist`/`lhist` as bucket tables with `@` bars; stacks one frame per
//! line; `-f json` for one object per line. A map without a display (a
//! raw program's) prints its keys and values as hex bytes in memory
//! order, one value per CPU for per-CPU maps.
//!
//! Drops are never silent: whenever a printed map (or the stack map its
//! stacks come from, or a ring buffer) has dropped events since the last
//! report, a `WARNING:` line names the map and the count, on stderr next
//! to the data in text mode, and a `lost_events` object in JSON.

pub mod json;
pub mod record;
pub mod text;
pub mod value;

use std::collections::HashMap;
use std::io::{self, Write};

use capscope_bytecode::MapIdx;
use capscope_bytecode::model::{Entry, MapSnapshot, ModelEnv, Snapshot};
use capscope_bytecode::object::{FieldFormat, MapDef, MapKind, ProbeObject};
use serde_json::{Value, json};

pub use record::Record;
pub use value::hex;

use crate::symbolize::Symbolizer;

/// How results are printed (`-f`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// bpftrace-style text for people.
    #[default]
    Text,
    /// One JSON object per line, for machines.
    Json,
}

/// The output options of every command that prints results (`exec`,
/// `run`, `attach`): `#[command(flatten)]` them into its arguments.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct OutputArgs {
    /// Output format: `text` (bpftrace-style) or `json` (one object per
    /// line: attached_probes, printf, map, hist, stats, lost_events).
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// True for an object compiled from a script: its maps carry displays and
/// its ring-buffer records are printf output and map actions. A raw
/// program's maps and records print as hex instead.
pub fn is_compiled(obj: &ProbeObject) -> bool {
    !obj.formats.is_empty() || obj.maps.iter().any(|m| !is_raw(m))
}

/// True for a map the language did not describe: printed as hex.
pub fn is_raw(def: &MapDef) -> bool {
    def.display.value.is_empty()
}

/// The stack map of a compiled object, which stack-typed fields refer to.
pub fn stack_map<'a>(defs: &[MapDef], snap: &'a Snapshot) -> Option<&'a MapSnapshot> {
    defs.iter()
        .position(|d| d.kind == MapKind::StackTrace)
        .and_then(|i| snap.maps.get(i))
}

/// A map's contents from pages read over the control channel: each entry
/// is a key and its value bytes, `values_per_entry` values (one per CPU
/// for per-CPU maps) laid end to end.
pub fn snapshot(
    def: &MapDef,
    entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    values_per_entry: u32,
    drops: u64,
) -> MapSnapshot {
    let size = (def.value_size as usize).max(1);
    let per = values_per_entry.max(1) as usize;
    MapSnapshot {
        name: def.name.clone(),
        kind: def.kind,
        entries: entries
            .into_iter()
            .map(|(key, value)| Entry {
                key,
                values: value.chunks(size).take(per).map(<[u8]>::to_vec).collect(),
            })
            .collect(),
        records: Vec::new(),
        drops,
    }
}

/// Whether a map's display has stack fields (so its output depends on
/// the stack map, whose drops matter too).
fn has_stacks(def: &MapDef) -> bool {
    def.display
        .key
        .iter()
        .chain(&def.display.value)
        .any(|f| matches!(f.format, FieldFormat::UserStack | FieldFormat::KernelStack))
}

/// Prints a session's output in one [`Format`].
pub struct Printer<'w> {
    format: Format,
    out: Box<dyn Write + 'w>,
    err: Box<dyn Write + 'w>,
    symbols: Symbolizer,
    /// Drops already reported, per map name, so a map printed every
    /// second warns when its count grows, not every time.
    reported: HashMap<String, u64>,
}

impl Printer<'static> {
    /// A printer to standard output (data) and standard error (warnings
    /// in text mode).
    pub fn stdio(format: Format, symbols: Symbolizer) -> Printer<'static> {
        Printer::new(
            format,
            Box::new(io::stdout()),
            Box::new(io::stderr()),
            symbols,
        )
    }
}

impl<'w> Printer<'w> {
    /// A printer writing data to `out` and text-mode warnings to `err`.
    pub fn new(
        format: Format,
        out: Box<dyn Write + 'w>,
        err: Box<dyn Write + 'w>,
        symbols: Symbolizer,
    ) -> Printer<'w> {
        Printer {
            format,
            out,
            err,
            symbols,
            reported: HashMap::new(),
        }
    }

    fn line(&mut self, v: &Value) -> io::Result<()> {
        // serde_json cannot fail on a `Value` (its keys are strings).
        let s = serde_json::to_string(v).map_err(io::Error::other)?;
        writeln!(self.out, "{s}")?;
        self.out.flush()
    }

    /// `Attaching N probes...` once the programs are live.
    pub fn attached(&mut self, probes: usize) -> io::Result<()> {
        match self.format {
            Format::Text => {
                let s = if probes == 1 { "" } else { "s" };
                writeln!(self.out, "Attaching {probes} probe{s}...")?;
                self.out.flush()
            }
            Format::Json => self.line(&json::message("attached_probes", json!({"probes": probes}))),
        }
    }

    /// printf output, as it arrives.
    pub fn printf(&mut self, text: &str) -> io::Result<()> {
        match self.format {
            Format::Text => {
                write!(self.out, "{text}")?;
                self.out.flush()
            }
            Format::Json => self.line(&json::message("printf", Value::String(text.into()))),
        }
    }

    /// A free-form message of `kind` (`exec`'s result, a session's
    /// status) with structured data in JSON and `text` in text mode.
    pub fn message(&mut self, kind: &str, text: &str, data: Value) -> io::Result<()> {
        match self.format {
            Format::Text => writeln!(self.out, "{text}"),
            Format::Json => self.line(&json::message(kind, data)),
        }
    }

    /// Decode a ring-buffer record and print what is printed (printf
    /// output, records it cannot decode); the caller carries out the map
    /// actions the returned record asks for.
    pub fn record(&mut self, obj: &ProbeObject, bytes: &[u8]) -> io::Result<Record> {
        let r = record::decode(obj, bytes);
        match &r {
            Record::Printf(text) => self.printf(text)?,
            Record::Unknown(bytes) => {
                let hex = hex(bytes);
                self.message(
                    "record",
                    &format!("<record {hex}>"),
                    Value::String(hex.clone()),
                )?;
            }
            _ => {}
        }
        Ok(r)
    }

    /// Print one map (`print(@m)`, or at the end), then warn about drops
    /// on it and, if its fields are stacks, on the stack map.
    pub fn map(
        &mut self,
        def: &MapDef,
        m: &MapSnapshot,
        stacks: Option<&MapSnapshot>,
    ) -> io::Result<()> {
        self.print_map(def, m, stacks, true)
    }

    /// Print a map; an empty one only if `empty` (an explicit `print`
    /// shows that a map is empty, the end of a run skips it, as bpftrace
    /// does: a script clears scratch maps in `END` so they do not print).
    fn print_map(
        &mut self,
        def: &MapDef,
        m: &MapSnapshot,
        stacks: Option<&MapSnapshot>,
        empty: bool,
    ) -> io::Result<()> {
        if is_raw(def) {
            match self.format {
                Format::Text => text::raw_map(&mut self.out, def, m)?,
                Format::Json => self.line(&raw_json(def, m))?,
            }
        } else {
            let cx = value::Ctx {
                stacks,
                symbols: &self.symbols,
            };
            let view = value::view(def, m, cx);
            if empty || !view.is_empty() {
                match self.format {
                    Format::Text => text::map(&mut self.out, &view)?,
                    Format::Json => self.line(&json::map(&view))?,
                }
            }
        }
        self.out.flush()?;
        self.drops(&m.name, m.kind, Some(def.max_entries), m.drops)?;
        if let Some(s) = stacks.filter(|_| has_stacks(def)) {
            self.drops(&s.name, s.kind, None, s.drops)?;
        }
        Ok(())
    }

    /// Print the maps at the end of a run. Raw maps all print, with a
    /// header line each and ring-buffer records as hex. A compiled
    /// object's maps print bpftrace-style if they are to be printed at the
    /// end (bpftrace prints the maps the script did not print itself); its
    /// ring buffer and stack map show up through records and stack fields,
    /// and only their drops are reported.
    pub fn maps_at_end(&mut self, defs: &[MapDef], snap: &Snapshot) -> io::Result<()> {
        let compiled = defs.iter().any(|d| !is_raw(d));
        let stacks = stack_map(defs, snap);
        for (def, m) in defs.iter().zip(&snap.maps) {
            let hidden = compiled && matches!(def.kind, MapKind::RingBuf | MapKind::StackTrace);
            if hidden {
                self.drops(&m.name, m.kind, Some(def.max_entries), m.drops)?;
            } else if is_raw(def) || def.display.print_at_end {
                self.print_map(def, m, stacks, false)?;
            }
        }
        Ok(())
    }

    /// Report `total` drops on a map if more than were last reported.
    pub fn drops(
        &mut self,
        name: &str,
        kind: MapKind,
        max_entries: Option<u32>,
        total: u64,
    ) -> io::Result<()> {
        let seen = self.reported.get(name).copied().unwrap_or(0);
        if total <= seen {
            return Ok(());
        }
        self.reported.insert(name.to_string(), total);
        match self.format {
            Format::Text => {
                self.out.flush()?;
                let new = if seen == 0 {
                    String::new()
                } else {
                    format!(" ({} since the last report)", total - seen)
                };
                writeln!(
                    self.err,
                    "WARNING: {total} {}{new}",
                    text::drop_reason(name, kind, max_entries)
                )?;
                self.err.flush()
            }
            Format::Json => self.line(&json::message(
                "lost_events",
                json!({"map": name, "events": total}),
            )),
        }
    }

    /// Report events that ran no program because their CPU was already
    /// running one (kernel-hooks counts them per attach point).
    pub fn missed(&mut self, point: &str, total: u64) -> io::Result<()> {
        let key = format!("probe {point}");
        let seen = self.reported.get(&key).copied().unwrap_or(0);
        if total <= seen {
            return Ok(());
        }
        self.reported.insert(key, total);
        match self.format {
            Format::Text => {
                self.out.flush()?;
                writeln!(
                    self.err,
                    "WARNING: {total} {point} events were missed: their CPU was already running a probe"
                )?;
                self.err.flush()
            }
            Format::Json => self.line(&json::message(
                "lost_events",
                json!({"probe": point, "events": total}),
            )),
        }
    }

    /// Flush what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// A raw map as JSON: keys and values in hex, per-CPU values as arrays,
/// ring buffers as their records.
fn raw_json(def: &MapDef, m: &MapSnapshot) -> Value {
    if def.kind == MapKind::RingBuf {
        let records: Vec<Value> = m.records.iter().map(|r| Value::String(hex(r))).collect();
        return json::message("records", json!({ def.name.clone(): records }));
    }
    let mut entries = serde_json::Map::new();
    for e in &m.entries {
        let v = if def.kind.per_cpu() {
            e.values.iter().map(|v| Value::String(hex(v))).collect()
        } else {
            Value::String(
                e.values
                    .iter()
                    .map(|v| hex(v))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        entries.insert(hex(&e.key), v);
    }
    json::message("map", json!({ def.name.clone(): entries }))
}

/// Carry out, in order, the records a compiled object's programs left in
/// the model's ring buffers: print printf output, print, clear or zero
/// maps. Returns true if a record asked the session to end (`exit()`);
/// records after it are dropped, as in bpftrace.
pub fn drain_records(
    p: &mut Printer<'_>,
    obj: &ProbeObject,
    env: &mut ModelEnv,
) -> io::Result<bool> {
    for (i, def) in obj.maps.iter().enumerate() {
        if def.kind != MapKind::RingBuf {
            continue;
        }
        for rec in env.take_records(MapIdx(i as u32)) {
            match p.record(obj, &rec)? {
                Record::PrintMap(m) => {
                    let snap = env.snapshot();
                    if let (Some(d), Some(s)) =
                        (obj.maps.get(m as usize), snap.maps.get(m as usize))
                    {
                        p.map(d, s, stack_map(&obj.maps, &snap))?;
                    }
                }
                Record::ClearMap(m) => env.clear(MapIdx(m)),
                Record::ZeroMap(m) => env.zero(MapIdx(m)),
                Record::Exit => return Ok(true),
                Record::Printf(_) | Record::Unknown(_) => {}
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
