//! Stage 3: the checked program to a probe object's maps, formats and
//! per-point programs (still with symbolic jumps; [`crate::opt`] runs next,
//! then [`Lowered::assemble`] encodes).
//!
//! Map table: the user's maps in order of first mention, then the stack-trace
//! map (if `ustack`/`kstack` is used), then the ring buffer (if any record
//! is sent). Aggregations use per-CPU maps, plain maps shared hashes:
//! an aggregation without keys (`@ = count()`, `@ = hist(x)`) is a per-CPU
//! array indexed by its bucket (one entry without buckets), which a JIT can
//! turn into an address computation, and every other aggregation a per-CPU
//! hash ([`Storage`]). The key and value layouts, and how the host prints
//! them, are in [`display`] and `docs/language.md`.

pub mod code;
mod expr;
mod func;
mod maps;

use capscope_bytecode::abi::fields::Meaning;
use capscope_bytecode::object::{
    Aggregation, AttachSpec, DisplayField, FieldFormat, FormatSpec, MapDef, MapDisplay, MapKind,
    ProbeObject, ProgramDef, limits,
};

use crate::ast::Span;
use crate::check::ir::{Checked, MapInfo, TStmt, TStmtKind};
use crate::check::types::{AggKind, StackKind, Type, ValueKind, layout};
use crate::diag::{Code as DiagCode, Diagnostic};
use code::Code;

/// Entries of every hash map (per CPU for per-CPU maps).
pub const MAP_ENTRIES: u32 = 4096;
/// Frames kept per stack.
pub const STACK_DEPTH: u32 = 32;
/// Distinct stacks kept.
pub const STACK_ENTRIES: u32 = 1024;
/// Ring buffer bytes.
pub const RINGBUF_SIZE: u32 = 1 << 16;
/// The buckets `hist` fills: 0 for negative values, 1 for 0, and `k + 2`
/// for `2^k <= x < 2^(k+1)`, where `k <= 62` (the value is an `i64`).
pub const LOG2_BUCKETS: u32 = 65;

/// Where the internal maps are, and how each user map is stored.
#[derive(Clone, Debug, Default)]
pub struct MapTable {
    /// Index of the stack-trace map.
    pub stacks: Option<u32>,
    /// Index of the ring buffer.
    pub ringbuf: Option<u32>,
    /// The storage of each user map, by map id.
    pub storage: Vec<Storage>,
}

/// How a user map is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A hash map keyed by the map's key fields (and bucket): `percpu_hash`
    /// for aggregations, `hash` for plain values.
    Hash,
    /// A `percpu_array` of `entries` values indexed by the bucket (a single
    /// entry for aggregations without buckets): for aggregations without
    /// keys. Every entry exists and starts zeroed, so an entry whose every
    /// CPU's copy is all zero is absent, as the host prints it; each
    /// value layout makes a value that saw an event non-zero (`sum` gets a
    /// `seen` word for that).
    Indexed {
        /// Entries per CPU.
        entries: u32,
    },
}

/// How map `m` is stored: indexed when it has no keys, aggregates, is
/// never `delete`d (a program reaches only its own CPU's copy of an array
/// value, and a delete must remove the key on every CPU), and its buckets
/// fit in [`MAP_ENTRIES`]; otherwise a hash.
fn storage(m: &MapInfo, deleted: bool) -> Storage {
    let ValueKind::Agg(agg) = m.value else {
        return Storage::Hash;
    };
    if !m.key.is_empty() || deleted {
        return Storage::Hash;
    }
    let entries = match agg {
        AggKind::Hist => u64::from(LOG2_BUCKETS),
        AggKind::Lhist { min, max, step } => {
            let step = i128::from(step.max(1));
            let n = (i128::from(max) - i128::from(min) + step - 1) / step;
            u64::try_from(n + 2).unwrap_or(u64::MAX)
        }
        _ => 1,
    };
    match u32::try_from(entries) {
        Ok(entries) if entries <= MAP_ENTRIES => Storage::Indexed { entries },
        _ => Storage::Hash,
    }
}

/// The maps some statement of `stmts` deletes from.
fn deleted_maps(stmts: &[TStmt], out: &mut Vec<bool>) {
    for s in stmts {
        match &s.kind {
            TStmtKind::MapDelete { map, .. } => {
                if let Some(d) = out.get_mut(map.0 as usize) {
                    *d = true;
                }
            }
            TStmtKind::If(_, then, otherwise) => {
                deleted_maps(then, out);
                deleted_maps(otherwise, out);
            }
            TStmtKind::For { body, .. } => deleted_maps(body, out),
            _ => {}
        }
    }
}

/// Bytes of an aggregation's value: `sum` in an indexed map carries a
/// `seen` word after the total, so that a total of 0 still shows.
pub(crate) fn agg_value_size(agg: AggKind, storage: Storage) -> u32 {
    match (agg, storage) {
        (AggKind::Sum, Storage::Indexed { .. }) => 16,
        _ => agg.value_size(),
    }
}

/// One lowered program, before optimization and encoding.
#[derive(Clone, Debug)]
pub struct LProgram {
    /// The program's name (the point plus any filter).
    pub name: String,
    /// Where it attaches.
    pub attach: AttachSpec,
    /// The code.
    pub code: Code,
    /// The probe it came from, for messages.
    pub span: Span,
}

/// A lowered object.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The map table.
    pub maps: Vec<MapDef>,
    /// One program per attach point of every probe.
    pub programs: Vec<LProgram>,
    /// printf formats.
    pub formats: Vec<FormatSpec>,
}

/// Lower a checked program.
pub fn lower(ck: &Checked) -> Result<Lowered, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut deleted = vec![false; ck.maps.len()];
    for p in &ck.probes {
        deleted_maps(&p.body, &mut deleted);
    }
    let storage: Vec<Storage> = ck
        .maps
        .iter()
        .zip(&deleted)
        .map(|(m, &d)| storage(m, d))
        .collect();
    let mut maps: Vec<MapDef> = ck
        .maps
        .iter()
        .zip(&storage)
        .map(|(m, &s)| map_def(m, s))
        .collect();
    let mut table = MapTable {
        storage,
        ..MapTable::default()
    };
    if ck.uses_stacks {
        table.stacks = Some(maps.len() as u32);
        maps.push(MapDef {
            name: "stacks".into(),
            kind: MapKind::StackTrace,
            key_size: 4,
            value_size: STACK_DEPTH * 8,
            max_entries: STACK_ENTRIES,
            display: MapDisplay::default(),
        });
    }
    if ck.uses_ringbuf {
        table.ringbuf = Some(maps.len() as u32);
        maps.push(MapDef {
            name: "events".into(),
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: RINGBUF_SIZE,
            display: MapDisplay::default(),
        });
    }
    if maps.len() > limits::MAX_MAPS {
        let span = ck
            .maps
            .get(limits::MAX_MAPS)
            .map_or(Span::default(), |m| m.span);
        errors.push(
            Diagnostic::new(
                DiagCode::TooManyMaps,
                span,
                format!("this script uses {} maps", maps.len()),
            )
            .label(format!(
                "an object holds at most {} maps, including the ring buffer and stack map",
                limits::MAX_MAPS
            )),
        );
    }
    for m in &maps {
        if m.key_size > limits::MAX_KEY_SIZE || m.value_size > limits::MAX_VALUE_SIZE {
            let span = ck
                .maps
                .iter()
                .find(|i| i.name == m.name)
                .map_or(Span::default(), |i| i.span);
            errors.push(
                Diagnostic::new(
                    DiagCode::StackExhausted,
                    span,
                    format!("the key of `{}` takes {} bytes", m.name, m.key_size),
                )
                .label(format!(
                    "keys are built on the stack and may take at most {} bytes",
                    limits::MAX_KEY_SIZE
                )),
            );
        }
    }
    // Offsets into keys and values are 16-bit; do not lower code for maps
    // whose layout is already known not to fit.
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut programs = Vec::new();
    for probe in &ck.probes {
        for point in &probe.points {
            let mut f = func::Fn::new(ck, probe, point, &table);
            f.program();
            if f.code.slots() > func::MAX_SLOTS {
                errors.push(
                    Diagnostic::new(
                        DiagCode::ProgramTooLarge,
                        probe.span,
                        "this probe compiles to too much code",
                    )
                    .label(format!("more than {} instructions", func::MAX_SLOTS))
                    .help("unroll fewer loop iterations"),
                );
            }
            errors.append(&mut f.errors);
            programs.push(LProgram {
                name: point.name.clone(),
                attach: AttachSpec {
                    point: point.point,
                    period_ns: point.period_ns,
                },
                code: f.code,
                span: probe.span,
            });
        }
    }
    if programs.len() > limits::MAX_PROGRAMS {
        let span = programs
            .get(limits::MAX_PROGRAMS)
            .map_or(Span::default(), |p| p.span);
        errors.push(
            Diagnostic::new(
                DiagCode::TooManyProbes,
                span,
                format!("this script attaches {} programs", programs.len()),
            )
            .label(format!(
                "an object holds at most {} programs (each probe of a list or wildcard is one)",
                limits::MAX_PROGRAMS
            )),
        );
    }
    errors.dedup();
    if errors.is_empty() {
        Ok(Lowered {
            maps,
            programs,
            formats: ck.formats.clone(),
        })
    } else {
        Err(errors)
    }
}

impl Lowered {
    /// Resolve jumps and encode into a probe object.
    pub fn assemble(&self) -> Result<ProbeObject, Vec<Diagnostic>> {
        let mut programs = Vec::new();
        let mut errors = Vec::new();
        for p in &self.programs {
            match p.code.encode() {
                Ok((insns, lines)) => programs.push(ProgramDef {
                    name: p.name.clone(),
                    attach: p.attach,
                    insns,
                    lines,
                }),
                Err(_) => errors.push(
                    Diagnostic::new(
                        DiagCode::ProgramTooLarge,
                        p.span,
                        "a jump in this probe spans too much code",
                    )
                    .label("jumps reach at most 32767 instructions")
                    .help("unroll fewer loop iterations"),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProbeObject {
            maps: self.maps.clone(),
            programs,
            formats: self.formats.clone(),
        })
    }
}

/// A user map's definition and display information.
fn map_def(m: &MapInfo, storage: Storage) -> MapDef {
    let mut key_types = m.key.clone();
    let (value_size, aggregation, kind) = match m.value {
        ValueKind::Plain(ref t) => (t.size(), Aggregation::None, MapKind::Hash),
        ValueKind::Agg(a) => {
            if a.bucketed() {
                key_types.push(Type::Int(crate::check::types::IntTy::U64));
            }
            let agg = match a {
                AggKind::Count => Aggregation::Count,
                AggKind::Sum => Aggregation::Sum,
                AggKind::Min => Aggregation::Min,
                AggKind::Max => Aggregation::Max,
                AggKind::Avg => Aggregation::Avg,
                AggKind::Stats => Aggregation::Stats,
                AggKind::Hist => Aggregation::Hist,
                AggKind::Lhist { min, max, step } => Aggregation::Lhist { min, max, step },
            };
            (agg_value_size(a, storage), agg, MapKind::PerCpuHash)
        }
    };
    let (key_offs, key_size) = layout(&key_types);
    let mut key = Vec::new();
    for (t, off) in key_types.iter().zip(key_offs) {
        display(t, off, &mut key);
    }
    if let Storage::Indexed { entries } = storage {
        // The key is the bucket as an array index: a `u32`, printed (for
        // histograms) as the bucket it is.
        key.clear();
        if !key_types.is_empty() {
            key.push(DisplayField {
                offset: 0,
                format: FieldFormat::Unsigned(4),
            });
        }
        return MapDef {
            name: m.name.clone(),
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: value_size.max(1),
            max_entries: entries,
            display: MapDisplay {
                key,
                value: value_display(m),
                aggregation,
                print_at_end: m.print_at_end,
            },
        };
    }
    MapDef {
        name: m.name.clone(),
        kind,
        // A map without keys has one 8-byte all-zero key that is not printed.
        key_size: if key_types.is_empty() {
            8
        } else {
            key_size.max(1)
        },
        value_size: value_size.max(1),
        max_entries: MAP_ENTRIES,
        display: MapDisplay {
            key,
            value: value_display(m),
            aggregation,
            print_at_end: m.print_at_end,
        },
    }
}

/// The display fields of a map's values.
fn value_display(m: &MapInfo) -> Vec<DisplayField> {
    let mut value = Vec::new();
    match &m.value {
        ValueKind::Plain(t) => display(t, 0, &mut value),
        ValueKind::Agg(a) => match a {
            AggKind::Count | AggKind::Hist | AggKind::Lhist { .. } => value.push(DisplayField {
                offset: 0,
                format: FieldFormat::Unsigned(8),
            }),
            AggKind::Sum => value.push(DisplayField {
                offset: 0,
                format: FieldFormat::Signed(8),
            }),
            _ => {
                value.push(DisplayField {
                    offset: 0,
                    format: FieldFormat::Signed(8),
                });
                value.push(DisplayField {
                    offset: 8,
                    format: FieldFormat::Unsigned(8),
                });
            }
        },
    }
    value
}

/// The display fields of a value of type `t` at `off` (tuples flatten).
fn display(t: &Type, off: u32, out: &mut Vec<DisplayField>) {
    let format = match t {
        Type::Int(i) => {
            let b = i.bytes;
            match i.meaning {
                Meaning::Address => FieldFormat::Hex(b),
                Meaning::Syscall
                | Meaning::ObjectKind
                | Meaning::Rights
                | Meaning::FaultAccess
                | Meaning::FaultOutcome
                | Meaning::FreeReason
                | Meaning::Errno
                | Meaning::Return => FieldFormat::Symbol(i.meaning, b),
                _ if i.signed => FieldFormat::Signed(b),
                _ => FieldFormat::Unsigned(b),
            }
        }
        Type::Bool => FieldFormat::Bool(1),
        Type::Str(n) => FieldFormat::Str(*n),
        Type::Stack(StackKind::User) => FieldFormat::UserStack,
        Type::Stack(StackKind::Kernel) => FieldFormat::KernelStack,
        Type::Tuple(items) => {
            let (offs, _) = layout(items);
            for (i, o) in items.iter().zip(offs) {
                display(i, off + o, out);
            }
            return;
        }
        Type::Void | Type::Error => FieldFormat::Unsigned(8),
    };
    out.push(DisplayField {
        offset: off,
        format,
    });
}
