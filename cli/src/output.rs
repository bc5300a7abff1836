//! Printing maps and ring-buffer records, shared by every command that
//! shows results (`exec` now; `run` and `attach` later).
//!
//! Maps print bpftrace-style: `@name[key]: value`, or `@name: value` for a
//! map without keys, with histograms drawn as bars. What the bytes mean comes
//! from the map's [`MapDisplay`], which the language fills. A map without a
//! display (a raw program's) prints its keys and values as hex bytes in
//! memory order, one value per CPU for per-CPU maps.

use std::fmt::Write as _;
use std::io::{self, Write};

use capscope_bytecode::MapIdx;
use capscope_bytecode::abi::consts;
use capscope_bytecode::abi::fields::Meaning;
use capscope_bytecode::model::{Entry, MapSnapshot, ModelEnv, Snapshot};
use capscope_bytecode::object::record::{self, RecordHeader};
use capscope_bytecode::object::{
    Aggregation, Conversion, DisplayField, FieldFormat, FormatSpec, MapDef, MapKind, ProbeObject,
};

/// Hex of bytes in memory order, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A little-endian unsigned integer of up to 8 bytes at `off`; missing bytes
/// read as zero (a display that does not fit its map prints zeros, not
/// garbage or a panic).
fn uint(bytes: &[u8], off: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, slot) in b.iter_mut().enumerate().take(n.min(8)) {
        *slot = bytes.get(off + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

fn int(bytes: &[u8], off: usize, n: usize) -> i64 {
    let v = uint(bytes, off, n);
    let n = n.clamp(1, 8);
    let shift = 64 - 8 * n as u32;
    ((v << shift) as i64) >> shift
}

/// True for an object compiled from a script: its maps carry displays and
/// its ring-buffer records are printf output and map actions. A raw
/// program's maps and records print as hex instead.
pub fn is_compiled(obj: &ProbeObject) -> bool {
    !obj.formats.is_empty() || obj.maps.iter().any(|m| !is_raw(m))
}

/// The stack map of a compiled object, which stack-typed fields refer to.
fn stack_map<'a>(defs: &[MapDef], snap: &'a Snapshot) -> Option<&'a MapSnapshot> {
    defs.iter()
        .position(|d| d.kind == MapKind::StackTrace)
        .and_then(|i| snap.maps.get(i))
}

/// Print the maps at the end of a run. Raw maps all print, with a header
/// line each and ring-buffer records as hex. A compiled object's maps print
/// bpftrace-style if they are to be printed at the end (bpftrace prints the
/// maps the script did not print itself); its ring buffers and stack map
/// show up through records and stack fields instead.
pub fn print_maps(w: &mut dyn Write, defs: &[MapDef], snap: &Snapshot) -> io::Result<()> {
    let stacks = stack_map(defs, snap);
    for (def, m) in defs.iter().zip(&snap.maps) {
        if is_raw(def) {
            if !matches!(def.kind, MapKind::RingBuf | MapKind::StackTrace)
                || !defs.iter().any(|d| !is_raw(d))
            {
                print_raw_map(w, def, m)?;
            }
        } else if def.display.print_at_end {
            print_map(w, def, m, stacks)?;
        }
    }
    Ok(())
}

/// Carry out, in order, the records a compiled object's programs sent:
/// print printf output, print, clear or zero maps. Returns true if a record
/// asked the session to end (`exit()`); records after it are dropped, as in
/// bpftrace.
pub fn drain_records(w: &mut dyn Write, obj: &ProbeObject, env: &mut ModelEnv) -> io::Result<bool> {
    for (i, def) in obj.maps.iter().enumerate() {
        if def.kind != MapKind::RingBuf {
            continue;
        }
        for rec in env.take_records(MapIdx(i as u32)) {
            match decode_record(obj, &rec) {
                Record::Printf(text) => write!(w, "{text}")?,
                Record::PrintMap(m) => {
                    let snap = env.snapshot();
                    if let (Some(d), Some(s)) =
                        (obj.maps.get(m as usize), snap.maps.get(m as usize))
                    {
                        print_map(w, d, s, stack_map(&obj.maps, &snap))?;
                    }
                }
                Record::ClearMap(m) => env.clear(MapIdx(m)),
                Record::ZeroMap(m) => env.zero(MapIdx(m)),
                Record::Exit => return Ok(true),
                Record::Unknown(bytes) => writeln!(w, "<record {}>", hex(&bytes))?,
            }
        }
    }
    Ok(false)
}

/// True for a map the language did not describe: printed as hex.
pub fn is_raw(def: &MapDef) -> bool {
    def.display.value.is_empty()
}

/// A raw map: a header line, then `@name[KEYHEX]: VALUEHEX` lines (per-CPU
/// maps: `cpuN=VALUEHEX` per CPU); ring buffers list their records.
pub fn print_raw_map(w: &mut dyn Write, def: &MapDef, m: &MapSnapshot) -> io::Result<()> {
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
        writeln!(w, "@{}[{}]: {value}", bare(&def.name), hex(&e.key))?;
    }
    Ok(())
}

/// Map names from scripts carry their `@`; raw ones do not.
fn bare(name: &str) -> &str {
    name.strip_prefix('@').unwrap_or(name)
}

/// One map's value, combined across CPUs as its aggregation says.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    /// A number (count, sum, min, max, avg), for sorting and bars.
    Num(i128),
    /// Stats: count, average, total.
    Stats { count: u64, total: i64 },
    /// Nothing seen (min/max on no CPU).
    None,
    /// Shown as is (a plain value).
    Text(String),
}

fn combine(
    agg: Aggregation,
    values: &[Vec<u8>],
    fields: &[DisplayField],
    stacks: Option<&MapSnapshot>,
) -> Value {
    let sum_u = |off| {
        values
            .iter()
            .fold(0u64, |a, v| a.wrapping_add(uint(v, off, 8)))
    };
    let sum_i = |off| {
        values
            .iter()
            .fold(0i64, |a, v| a.wrapping_add(int(v, off, 8)))
    };
    match agg {
        Aggregation::Count | Aggregation::Hist | Aggregation::Lhist { .. } => {
            Value::Num(i128::from(sum_u(0)))
        }
        Aggregation::Sum => Value::Num(i128::from(sum_i(0))),
        Aggregation::Min | Aggregation::Max => {
            let seen = values
                .iter()
                .filter(|v| uint(v, 8, 8) != 0)
                .map(|v| int(v, 0, 8));
            let best = if agg == Aggregation::Min {
                seen.min()
            } else {
                seen.max()
            };
            best.map_or(Value::None, |v| Value::Num(i128::from(v)))
        }
        Aggregation::Avg => {
            let (total, count) = (sum_i(0), sum_u(8));
            Value::Num(if count == 0 {
                0
            } else {
                i128::from(total) / i128::from(count)
            })
        }
        Aggregation::Stats => Value::Stats {
            count: sum_u(8),
            total: sum_i(0),
        },
        Aggregation::None => {
            let per_cpu: Vec<String> = values
                .iter()
                .map(|v| fields_text(fields, v, stacks))
                .collect();
            Value::Text(if per_cpu.len() == 1 {
                per_cpu.into_iter().next().unwrap_or_default()
            } else {
                format!("[{}]", per_cpu.join(", "))
            })
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Num(n) => n.to_string(),
        Value::Stats { count, total } => {
            let avg = if *count == 0 {
                0
            } else {
                i128::from(*total) / i128::from(*count)
            };
            format!("count {count}, average {avg}, total {total}")
        }
        Value::None => "(none)".into(),
        Value::Text(t) => t.clone(),
    }
}

fn fields_text(fields: &[DisplayField], bytes: &[u8], stacks: Option<&MapSnapshot>) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| field(f.format, bytes, f.offset as usize, stacks))
        .collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// One field as text.
pub fn field(
    format: FieldFormat,
    bytes: &[u8],
    off: usize,
    stacks: Option<&MapSnapshot>,
) -> String {
    match format {
        FieldFormat::Unsigned(n) => uint(bytes, off, n.into()).to_string(),
        FieldFormat::Signed(n) => int(bytes, off, n.into()).to_string(),
        FieldFormat::Hex(n) => format!("{:#x}", uint(bytes, off, n.into())),
        FieldFormat::Bool(n) => (uint(bytes, off, n.into()) != 0).to_string(),
        FieldFormat::Str(n) => {
            let end = (off + usize::from(n)).min(bytes.len());
            let s = bytes.get(off..end).unwrap_or_default();
            let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
            String::from_utf8_lossy(s).escape_debug().to_string()
        }
        FieldFormat::UserStack | FieldFormat::KernelStack => stack(int(bytes, off, 8), stacks),
        FieldFormat::Symbol(meaning, n) => symbol(meaning, uint(bytes, off, n.into()), n),
    }
}

/// A stack id as its frames, one per line, as bpftrace prints stacks.
fn stack(id: i64, stacks: Option<&MapSnapshot>) -> String {
    if id < 0 {
        return format!("<no stack: {}>", errno_name((-id) as u64));
    }
    let key = (id as u32).to_le_bytes();
    let Some(e) = stacks.and_then(|s| s.entries.iter().find(|e| e.key == key)) else {
        return format!("<stack {id} not stored>");
    };
    let mut out = String::from("\n");
    for f in e.values.first().into_iter().flat_map(|v| v.chunks_exact(8)) {
        let addr = uint(f, 0, 8);
        if addr != 0 {
            let _ = writeln!(out, "        {addr:#x}");
        }
    }
    out
}

fn errno_name(e: u64) -> String {
    consts::named()
        .find(|(n, v)| *v == e && n.starts_with('E'))
        .map_or_else(|| e.to_string(), |(n, _)| n.to_string())
}

/// Names for a value with an ABI meaning; flag sets as `A|B`.
fn symbol(meaning: Meaning, v: u64, bytes: u8) -> String {
    let named = |prefix: &str, exclude: &[&str]| {
        consts::named()
            .find(|(n, val)| *val == v && n.starts_with(prefix) && !exclude.contains(n))
            .map(|(n, _)| n.to_string())
    };
    let flags = |names: &[(&str, u64)]| {
        let mut parts: Vec<&str> = names
            .iter()
            .filter(|(_, b)| v & b != 0)
            .map(|(n, _)| *n)
            .collect();
        let known = names.iter().fold(0, |a, (_, b)| a | b);
        let rest = v & !known;
        let rest_text = format!("{rest:#x}");
        if rest != 0 {
            parts.push(&rest_text);
        }
        if parts.is_empty() {
            "0".to_string()
        } else {
            parts.join("|")
        }
    };
    let text = match meaning {
        Meaning::Syscall => consts::syscall_by_nr(v).map(|s| s.name.to_string()),
        Meaning::ObjectKind => named("KIND_", &[]),
        Meaning::FaultOutcome => named(
            "FAULT_",
            &[
                "FAULT_READ",
                "FAULT_WRITE",
                "FAULT_EXEC",
                "FAULT_USER",
                "FAULT_PRESENT",
            ],
        ),
        Meaning::FreeReason => named("FREE_", &[]),
        Meaning::Errno => {
            if v == 0 {
                Some("0".into())
            } else {
                named("E", &[])
            }
        }
        Meaning::Return => {
            let s = int(&v.to_le_bytes(), 0, bytes.into());
            if s < 0 {
                let e = s.unsigned_abs();
                Some(
                    consts::named()
                        .find(|(n, val)| *val == e && n.starts_with('E'))
                        .map_or_else(|| s.to_string(), |(n, _)| format!("-{n}")),
                )
            } else {
                Some(s.to_string())
            }
        }
        Meaning::Rights => Some(flags(&[
            ("READ", consts::rights::READ),
            ("WRITE", consts::rights::WRITE),
            ("EXEC", consts::rights::EXEC),
            ("INVOKE", consts::rights::INVOKE),
            ("MAP", consts::rights::MAP),
        ])),
        Meaning::FaultAccess => Some(flags(&[
            ("READ", consts::fault::READ),
            ("WRITE", consts::fault::WRITE),
            ("EXEC", consts::fault::EXEC),
            ("USER", consts::fault::USER),
            ("PRESENT", consts::fault::PRESENT),
        ])),
        Meaning::Address => Some(format!("{v:#x}")),
        _ => None,
    };
    text.unwrap_or_else(|| v.to_string())
}

/// A map the language described, bpftrace-style.
pub fn print_map(
    w: &mut dyn Write,
    def: &MapDef,
    m: &MapSnapshot,
    stacks: Option<&MapSnapshot>,
) -> io::Result<()> {
    let d = &def.display;
    let name = &def.name;
    match d.aggregation {
        Aggregation::Hist | Aggregation::Lhist { .. } => return print_hist(w, def, m),
        _ => {}
    }
    let mut rows: Vec<(Vec<i128>, String, Value)> = m
        .entries
        .iter()
        .map(|e| {
            let v = combine(d.aggregation, &e.values, &d.value, stacks);
            (sort_key(&d.key, &e.key), key_text(&d.key, e, stacks), v)
        })
        .collect();
    // bpftrace sorts aggregations by value and plain maps by key.
    rows.sort_by(|a, b| match (&a.2, &b.2) {
        (Value::Num(x), Value::Num(y)) => x.cmp(y).then_with(|| a.0.cmp(&b.0)),
        (Value::Stats { total: x, .. }, Value::Stats { total: y, .. }) => {
            x.cmp(y).then_with(|| a.0.cmp(&b.0))
        }
        _ => a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)),
    });
    for (_, key, v) in rows {
        writeln!(w, "{name}{key}: {}", value_text(&v))?;
    }
    Ok(())
}

fn key_text(fields: &[DisplayField], e: &Entry, stacks: Option<&MapSnapshot>) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|f| field(f.format, &e.key, f.offset as usize, stacks))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Numeric sort keys for the key's fields (strings sort by their bytes).
fn sort_key(fields: &[DisplayField], key: &[u8]) -> Vec<i128> {
    fields
        .iter()
        .flat_map(|f| {
            let off = f.offset as usize;
            match f.format {
                FieldFormat::Signed(n) => vec![i128::from(int(key, off, n.into()))],
                FieldFormat::Str(n) => {
                    let end = (off + usize::from(n)).min(key.len());
                    key.get(off..end)
                        .unwrap_or_default()
                        .iter()
                        .map(|&b| i128::from(b))
                        .collect()
                }
                FieldFormat::Unsigned(n)
                | FieldFormat::Hex(n)
                | FieldFormat::Bool(n)
                | FieldFormat::Symbol(_, n) => {
                    vec![i128::from(uint(key, off, n.into()))]
                }
                FieldFormat::UserStack | FieldFormat::KernelStack => {
                    vec![i128::from(int(key, off, 8))]
                }
            }
        })
        .collect()
}

/// `1K`, `2M`: bpftrace's bucket bounds.
fn unit(v: u64) -> String {
    const UNITS: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let mut v = v;
    let mut i = 0;
    while v >= 1024 && v.is_multiple_of(1024) && i + 1 < UNITS.len() {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", UNITS[i])
}

/// The label of histogram bucket `b`.
fn bucket_label(agg: Aggregation, b: u64) -> String {
    match agg {
        Aggregation::Lhist { min, max, step } => {
            let step = step.max(1) as i128;
            let n = (i128::from(max) - i128::from(min) + step - 1) / step;
            let b = i128::from(b);
            if b == 0 {
                format!("(..., {min})")
            } else if b > n {
                format!("[{max}, ...)")
            } else {
                let lo = i128::from(min) + (b - 1) * step;
                format!("[{lo}, {})", (lo + step).min(i128::from(max)))
            }
        }
        // Log2: 0 holds negatives, 1 holds 0, k + 2 holds [2^k, 2^(k+1)).
        _ => match b {
            0 => "(..., 0)".into(),
            1 => "[0]".into(),
            2 => "[1]".into(),
            _ => {
                let k = (b - 2).min(63) as u32;
                let lo = 1u64 << k;
                let hi = if k == 63 { "...".into() } else { unit(lo << 1) };
                format!("[{}, {hi})", unit(lo))
            }
        },
    }
}

/// Histograms: entries grouped by every key field but the last (the
/// bucket), each drawn as bpftrace does, from the lowest to the highest
/// non-empty bucket.
fn print_hist(w: &mut dyn Write, def: &MapDef, m: &MapSnapshot) -> io::Result<()> {
    let d = &def.display;
    let (bucket_field, group_fields) = match d.key.split_last() {
        Some((b, g)) => (b.clone(), g),
        None => (
            DisplayField {
                offset: 0,
                format: FieldFormat::Unsigned(8),
            },
            &[][..],
        ),
    };
    /// One histogram: its key (for sorting and the label) and its
    /// (bucket, count) pairs.
    struct Group {
        sort: Vec<i128>,
        label: String,
        buckets: Vec<(u64, u64)>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for e in &m.entries {
        let sort = sort_key(group_fields, &e.key);
        let label = key_text(group_fields, e, None);
        let b = uint(&e.key, bucket_field.offset as usize, 8);
        let count = e
            .values
            .iter()
            .fold(0u64, |a, v| a.wrapping_add(uint(v, 0, 8)));
        match groups
            .iter_mut()
            .find(|g| g.sort == sort && g.label == label)
        {
            Some(g) => g.buckets.push((b, count)),
            None => groups.push(Group {
                sort,
                label,
                buckets: vec![(b, count)],
            }),
        }
    }
    groups.sort_by(|a, b| a.sort.cmp(&b.sort).then_with(|| a.label.cmp(&b.label)));
    for Group {
        label, mut buckets, ..
    } in groups
    {
        writeln!(w, "{}{label}:", def.name)?;
        buckets.sort_unstable();
        let (Some(&(lo, _)), Some(&(hi, _))) = (buckets.first(), buckets.last()) else {
            continue;
        };
        let max = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
        for b in lo..=hi {
            let count = buckets.iter().find(|x| x.0 == b).map_or(0, |x| x.1);
            let bar = (u128::from(count) * 52 / u128::from(max)) as usize;
            writeln!(
                w,
                "{:<20} {count:>8} |{:<52}|",
                bucket_label(d.aggregation, b),
                "@".repeat(bar)
            )?;
            if b == u64::MAX {
                break;
            }
        }
        writeln!(w)?;
    }
    Ok(())
}

/// What a ring-buffer record from a compiled script asks of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// printf output, formatted.
    Printf(String),
    /// `print(@map)`: print map `N` now.
    PrintMap(u32),
    /// `clear(@map)`: delete every entry of map `N`.
    ClearMap(u32),
    /// `zero(@map)`: zero every value of map `N`.
    ZeroMap(u32),
    /// `exit()`: end the session.
    Exit,
    /// A record this host does not understand (shown as hex).
    Unknown(Vec<u8>),
}

/// Decode a record of a compiled script (see `object::record`).
pub fn decode_record(obj: &ProbeObject, bytes: &[u8]) -> Record {
    let Some((hdr, payload)) = bytes.split_first_chunk::<8>() else {
        return Record::Unknown(bytes.to_vec());
    };
    let h = RecordHeader {
        kind: uint(hdr, 0, 4) as u32,
        id: uint(hdr, 4, 4) as u32,
    };
    match h.kind {
        record::KIND_PRINTF => match obj.formats.get(h.id as usize) {
            Some(f) => Record::Printf(printf(f, payload)),
            None => Record::Unknown(bytes.to_vec()),
        },
        record::KIND_PRINT_MAP => Record::PrintMap(h.id),
        record::KIND_CLEAR_MAP => Record::ClearMap(h.id),
        record::KIND_ZERO_MAP => Record::ZeroMap(h.id),
        record::KIND_EXIT => Record::Exit,
        _ => Record::Unknown(bytes.to_vec()),
    }
}

/// Render a printf record's payload with its format: `%d %u %x %s %p` with
/// flags `-0+ #`, a width and ignored length modifiers, as the language
/// accepts them; `%%` is `%`.
pub fn printf(f: &FormatSpec, payload: &[u8]) -> String {
    let mut out = String::new();
    let mut args = f.args.iter();
    let mut off = 0usize;
    let mut chars = f.template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut left, mut zero, mut plus, mut alt) = (false, false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                '#' => alt = true,
                ' ' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width
                .saturating_mul(10)
                .saturating_add(d as usize)
                .min(4096);
            chars.next();
        }
        while matches!(chars.peek(), Some('l' | 'h' | 'z')) {
            chars.next();
        }
        let conv = chars.next();
        let Some(arg) = args.next() else {
            break;
        };
        let size = arg.size as usize;
        let body = match arg.conv {
            Conversion::Signed => {
                let v = int(payload, off, 8);
                if plus && v >= 0 {
                    format!("+{v}")
                } else {
                    v.to_string()
                }
            }
            Conversion::Unsigned => uint(payload, off, 8).to_string(),
            Conversion::Hex => {
                let v = uint(payload, off, 8);
                let s = if conv == Some('X') {
                    format!("{v:X}")
                } else {
                    format!("{v:x}")
                };
                if alt { format!("0x{s}") } else { s }
            }
            Conversion::Pointer => format!("{:#x}", uint(payload, off, 8)),
            Conversion::Str => field(
                FieldFormat::Str(size.min(usize::from(u16::MAX)) as u16),
                payload,
                off,
                None,
            ),
        };
        off += size;
        let pad = width.saturating_sub(body.chars().count());
        if left {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && arg.conv != Conversion::Str {
            let (sign, digits) = body.split_at(usize::from(body.starts_with(['-', '+'])));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use capscope_bytecode::object::{FormatArg, MapDisplay};

    fn snap(entries: Vec<(Vec<u8>, Vec<Vec<u8>>)>) -> MapSnapshot {
        MapSnapshot {
            name: "@m".into(),
            kind: MapKind::PerCpuHash,
            entries: entries
                .into_iter()
                .map(|(key, values)| Entry { key, values })
                .collect(),
            records: vec![],
            drops: 0,
        }
    }

    fn def(key: Vec<DisplayField>, value: Vec<DisplayField>, aggregation: Aggregation) -> MapDef {
        MapDef {
            name: "@m".into(),
            kind: MapKind::PerCpuHash,
            key_size: 8,
            value_size: 16,
            max_entries: 64,
            display: MapDisplay {
                key,
                value,
                aggregation,
                print_at_end: true,
            },
        }
    }

    fn u(n: u8, off: u32) -> DisplayField {
        DisplayField {
            offset: off,
            format: FieldFormat::Unsigned(n),
        }
    }

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counts_sum_over_cpus_and_sort_by_value() {
        let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
        let s = snap(vec![
            (
                1u64.to_le_bytes().to_vec(),
                vec![5u64.to_le_bytes().to_vec(), 4u64.to_le_bytes().to_vec()],
            ),
            (
                2u64.to_le_bytes().to_vec(),
                vec![1u64.to_le_bytes().to_vec(), 0u64.to_le_bytes().to_vec()],
            ),
        ]);
        assert_eq!(text(|w| print_map(w, &d, &s, None)), "@m[2]: 1\n@m[1]: 9\n");
    }

    #[test]
    fn keyless_min_ignores_cpus_that_saw_nothing() {
        let d = def(vec![], vec![], Aggregation::Min);
        let mut seen = (-3i64).to_le_bytes().to_vec();
        seen.extend(1u64.to_le_bytes());
        let s = snap(vec![(vec![0; 8], vec![vec![0; 16], seen])]);
        assert_eq!(text(|w| print_map(w, &d, &s, None)), "@m: -3\n");
    }

    #[test]
    fn stats_and_avg() {
        let mut v = 30i64.to_le_bytes().to_vec();
        v.extend(4u64.to_le_bytes());
        let s = snap(vec![(vec![0; 8], vec![v])]);
        let d = def(vec![], vec![], Aggregation::Stats);
        assert_eq!(
            text(|w| print_map(w, &d, &s, None)),
            "@m: count 4, average 7, total 30\n"
        );
        let d = def(vec![], vec![], Aggregation::Avg);
        assert_eq!(text(|w| print_map(w, &d, &s, None)), "@m: 7\n");
    }

    #[test]
    fn log2_histogram() {
        let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Hist);
        let e = |b: u64, c: u64| (b.to_le_bytes().to_vec(), vec![c.to_le_bytes().to_vec()]);
        let s = snap(vec![e(1, 2), e(3, 4), e(12, 1)]);
        let out = text(|w| print_map(w, &d, &s, None));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "@m:");
        assert!(
            lines[1].starts_with("[0]                         2 |@@@@@@@@@@@@@@@@@@@@@@@@@@ "),
            "{out}"
        );
        assert!(
            lines[2].starts_with("[1]                         0 |"),
            "{out}"
        );
        assert!(lines[3].starts_with("[2, 4)                      4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"), "{out}");
        assert!(
            lines[12].starts_with("[1K, 2K)                    1 |@@@@@@@@@@@@@ "),
            "{out}"
        );
        assert_eq!(lines.len(), 14);
    }

    #[test]
    fn linear_buckets() {
        let agg = Aggregation::Lhist {
            min: 0,
            max: 100,
            step: 10,
        };
        assert_eq!(bucket_label(agg, 0), "(..., 0)");
        assert_eq!(bucket_label(agg, 1), "[0, 10)");
        assert_eq!(bucket_label(agg, 10), "[90, 100)");
        assert_eq!(bucket_label(agg, 11), "[100, ...)");
    }

    #[test]
    fn symbols_and_strings() {
        assert_eq!(symbol(Meaning::ObjectKind, 4, 4), "KIND_GATE");
        assert_eq!(symbol(Meaning::Rights, 0b1_0011, 4), "READ|WRITE|MAP");
        assert_eq!(symbol(Meaning::Rights, 0x40, 4), "0x40");
        assert_eq!(symbol(Meaning::Syscall, 8, 8), "map");
        assert_eq!(symbol(Meaning::Return, (-71i64) as u64, 8), "-EPROTO");
        assert_eq!(symbol(Meaning::FaultOutcome, 0, 4), "FAULT_RESOLVED");
        assert_eq!(field(FieldFormat::Str(8), b"init\0\0\0\0", 0, None), "init");
        assert_eq!(
            field(FieldFormat::Signed(4), &[0xfe, 0xff, 0xff, 0xff], 0, None),
            "-2"
        );
        // Fields past the end of the bytes read as zero, never panic.
        assert_eq!(field(FieldFormat::Unsigned(8), &[1], 4, None), "0");
    }

    #[test]
    fn stacks_print_their_frames() {
        let stacks = MapSnapshot {
            name: "stacks".into(),
            kind: MapKind::StackTrace,
            entries: vec![Entry {
                key: 7u32.to_le_bytes().to_vec(),
                values: vec![[0x10u64.to_le_bytes(), 0x20u64.to_le_bytes(), [0; 8]].concat()],
            }],
            records: vec![],
            drops: 0,
        };
        assert_eq!(stack(7, Some(&stacks)), "\n        0x10\n        0x20\n");
        assert_eq!(stack(-14, Some(&stacks)), "<no stack: EFAULT>");
    }

    #[test]
    fn printf_records() {
        let f = FormatSpec {
            template: "pid %d comm %-6s| %05u %#x %%\n".into(),
            args: vec![
                FormatArg {
                    conv: Conversion::Signed,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Str,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Unsigned,
                    size: 8,
                },
                FormatArg {
                    conv: Conversion::Hex,
                    size: 8,
                },
            ],
        };
        let mut rec = [record::KIND_PRINTF.to_le_bytes(), 0u32.to_le_bytes()].concat();
        rec.extend((-5i64).to_le_bytes());
        rec.extend(b"init\0\0\0\0");
        rec.extend(42u64.to_le_bytes());
        rec.extend(255u64.to_le_bytes());
        let obj = ProbeObject {
            formats: vec![f],
            ..Default::default()
        };
        assert_eq!(
            decode_record(&obj, &rec),
            Record::Printf("pid -5 comm init  | 00042 0xff %\n".into())
        );
        let clear = [record::KIND_CLEAR_MAP.to_le_bytes(), 3u32.to_le_bytes()].concat();
        assert_eq!(decode_record(&obj, &clear), Record::ClearMap(3));
        assert_eq!(decode_record(&obj, &[1, 2]), Record::Unknown(vec![1, 2]));
    }

    #[test]
    fn records_are_carried_out_in_order() {
        use capscope_bytecode::model::EventState;
        let count = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
        let rb = MapDef {
            name: "events".into(),
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            display: MapDisplay::default(),
        };
        let obj = ProbeObject {
            maps: vec![count, rb],
            formats: vec![FormatSpec {
                template: "hi %u\n".into(),
                args: vec![FormatArg {
                    conv: Conversion::Unsigned,
                    size: 8,
                }],
            }],
            ..Default::default()
        };
        assert!(is_compiled(&obj));
        let prog = capscope_bytecode::asm::assemble(
            "
            *(u64 *)(r10 - 8) = 1
            *(u64 *)(r10 - 16) = 2
            r1 = map[0] ll
            r2 = r10
            r2 += -8
            r3 = r10
            r3 += -16
            r4 = 0
            call map_update_elem
            *(u32 *)(r10 - 32) = 1
            *(u32 *)(r10 - 28) = 0
            *(u64 *)(r10 - 24) = 7
            r1 = map[1] ll
            r2 = r10
            r2 += -32
            r3 = 16
            r4 = 0
            call ringbuf_output
            *(u32 *)(r10 - 32) = 2
            r1 = map[1] ll
            r2 = r10
            r2 += -32
            r3 = 8
            r4 = 0
            call ringbuf_output
            *(u32 *)(r10 - 32) = 3
            r1 = map[1] ll
            r2 = r10
            r2 += -32
            r3 = 8
            r4 = 0
            call ringbuf_output
            *(u32 *)(r10 - 32) = 5
            r1 = map[1] ll
            r2 = r10
            r2 += -32
            r3 = 8
            r4 = 0
            call ringbuf_output
            *(u32 *)(r10 - 32) = 1
            r1 = map[1] ll
            r2 = r10
            r2 += -32
            r3 = 16
            r4 = 0
            call ringbuf_output
            r0 = 0
            exit
            ",
        )
        .unwrap();
        let mut env = ModelEnv::new(&obj.maps, EventState::default());
        capscope_bytecode::interp::run(&prog, &[], &mut env, &Default::default()).unwrap();
        let mut out = Vec::new();
        let exited = drain_records(&mut out, &obj, &mut env).unwrap();
        assert!(exited);
        // printf, print(@m), clear(@m), exit(); the printf after exit is dropped.
        assert_eq!(String::from_utf8(out).unwrap(), "hi 7\n@m[1]: 2\n");
        assert!(env.snapshot().maps[0].entries.is_empty());
    }

    #[test]
    fn raw_maps_print_hex_per_cpu() {
        let d = MapDef {
            name: "map0".into(),
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: 2,
            max_entries: 4,
            display: MapDisplay::default(),
        };
        let s = snap(vec![(vec![1, 0, 0, 0], vec![vec![0xab, 0], vec![0, 0xcd]])]);
        assert_eq!(
            text(|w| print_raw_map(w, &d, &s)),
            "map0: percpu_array key_size=4 value_size=2 max_entries=4, 1 entry, 0 drops\n@map0[01000000]: cpu0=ab00 cpu1=00cd\n"
        );
    }
}
