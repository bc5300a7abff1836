//! What a map's bytes mean: keys and values decoded into typed values, and
//! a whole map into a [`MapView`] that the text and JSON printers render.
//!
//! Decoding happens once, here, so both output formats agree on every
//! number, name, stack and sort order. What the bytes mean comes from the
//! map's `MapDisplay`, which the language fills (docs/language.md, "Map
//! layouts"); nothing is guessed. Bytes that do not fit their display (a
//! short value, a field past the end) read as zero rather than panic:
//! the input comes from a kernel over a wire.

use std::fmt::Write as _;

use capscope_bytecode::abi::consts;
use capscope_bytecode::abi::fields::Meaning;
use capscope_bytecode::model::{Entry, MapSnapshot};
use capscope_bytecode::object::{Aggregation, DisplayField, FieldFormat, MapDef, MapKind};

use crate::symbolize::{Frame, Symbolizer};

/// Hex of bytes in memory order, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A little-endian unsigned integer of up to 8 bytes at `off`; missing
/// bytes read as zero.
pub(crate) fn uint(bytes: &[u8], off: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, slot) in b.iter_mut().enumerate().take(n.min(8)) {
        *slot = off
            .checked_add(i)
            .and_then(|at| bytes.get(at))
            .copied()
            .unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// A little-endian signed integer of `n` (1 to 8) bytes, sign-extended.
pub(crate) fn int(bytes: &[u8], off: usize, n: usize) -> i64 {
    let v = uint(bytes, off, n);
    let n = n.clamp(1, 8);
    let shift = 64 - 8 * n as u32;
    ((v << shift) as i64) >> shift
}

/// A NUL-padded string field, up to its first NUL, lossily decoded.
pub(crate) fn string(bytes: &[u8], off: usize, n: usize) -> String {
    let end = off.saturating_add(n).min(bytes.len());
    let s = bytes.get(off..end).unwrap_or_default();
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    String::from_utf8_lossy(s).into_owned()
}

/// One decoded field of a key or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// An unsigned number.
    Uint(u64),
    /// A signed number.
    Int(i64),
    /// A number shown in hex (addresses).
    Hex(u64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// A number with an ABI meaning and its name (`KIND_GATE`, `map`,
    /// `READ|WRITE`, `-EPROTO`).
    Sym {
        /// The name.
        name: String,
        /// The number, for sorting.
        raw: u64,
    },
    /// A stack: its frames, innermost first, or why there are none.
    Stack(Result<Vec<Frame>, String>),
}

/// What decoding needs besides the bytes: the object's stack map (stack
/// fields are ids into it) and the symbols to name its frames.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The stack-trace map's contents, if the object has one.
    pub stacks: Option<&'a MapSnapshot>,
    /// Symbols for the frames.
    pub symbols: &'a Symbolizer,
}

/// Decode one field.
pub fn field(format: FieldFormat, bytes: &[u8], off: usize, cx: Ctx<'_>) -> Val {
    match format {
        FieldFormat::Unsigned(n) => Val::Uint(uint(bytes, off, n.into())),
        FieldFormat::Signed(n) => Val::Int(int(bytes, off, n.into())),
        FieldFormat::Hex(n) => Val::Hex(uint(bytes, off, n.into())),
        FieldFormat::Bool(n) => Val::Bool(uint(bytes, off, n.into()) != 0),
        FieldFormat::Str(n) => Val::Str(string(bytes, off, n.into())),
        FieldFormat::UserStack | FieldFormat::KernelStack => {
            Val::Stack(stack(int(bytes, off, 8), cx))
        }
        FieldFormat::Symbol(meaning, n) => {
            let raw = uint(bytes, off, n.into());
            match symbol(meaning, raw, n) {
                Some(name) => Val::Sym { name, raw },
                None => Val::Uint(raw),
            }
        }
    }
}

/// Decode several fields: one value, or a tuple of them.
pub fn fields(fields: &[DisplayField], bytes: &[u8], cx: Ctx<'_>) -> Vec<Val> {
    fields
        .iter()
        .map(|f| field(f.format, bytes, f.offset as usize, cx))
        .collect()
}

/// A stack id's frames. Negative ids are the errno `get_stackid` returned
/// (the walk failed, or the id's bucket held another stack).
fn stack(id: i64, cx: Ctx<'_>) -> Result<Vec<Frame>, String> {
    if id < 0 {
        return Err(format!("no stack: {}", errno_name(id.unsigned_abs())));
    }
    let key = u32::try_from(id).map_err(|_| format!("stack id {id} out of range"))?;
    let key = key.to_le_bytes();
    let entry = cx
        .stacks
        .and_then(|s| s.entries.iter().find(|e| e.key == key))
        .ok_or_else(|| format!("stack {id} not stored"))?;
    let words = entry
        .values
        .first()
        .into_iter()
        .flat_map(|v| v.chunks_exact(8))
        .map(|w| uint(w, 0, 8));
    Ok(cx.symbols.stack(words))
}

fn errno_name(e: u64) -> String {
    consts::named()
        .find(|(n, v)| *v == e && n.starts_with('E'))
        .map_or_else(|| e.to_string(), |(n, _)| n.to_string())
}

/// The name of a value with an ABI meaning; flag sets as `A|B`. `None`
/// for meanings without names (task ids, slots, plain numbers).
pub fn symbol(meaning: Meaning, v: u64, bytes: u8) -> Option<String> {
    let named = |prefix: &str, exclude: &[&str]| {
        consts::named()
            .find(|(n, val)| *val == v && n.starts_with(prefix) && !exclude.contains(n))
            .map(|(n, _)| n.to_string())
    };
    let flags = |names: &[(&str, u64)]| {
        let mut parts: Vec<String> = names
            .iter()
            .filter(|(_, b)| v & b != 0)
            .map(|(n, _)| n.to_string())
            .collect();
        let known = names.iter().fold(0, |a, (_, b)| a | b);
        let rest = v & !known;
        if rest != 0 {
            parts.push(format!("{rest:#x}"));
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
    // A number the ABI has no name for prints as the number.
    text.filter(|t| !t.is_empty())
}

/// A map entry's value, with per-CPU copies combined as its aggregation
/// says (docs/language.md, "Map layouts").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agg {
    /// count, sum, min, max, avg.
    Num(i128),
    /// stats: count, average and total.
    Stats {
        /// Values seen.
        count: u64,
        /// total / count (0 when nothing was seen).
        average: i64,
        /// The sum.
        total: i64,
    },
    /// min or max that no CPU saw a value for.
    Nothing,
    /// A plain value.
    Plain(Vec<Val>),
    /// A plain value of a per-CPU map, one per CPU.
    PerCpu(Vec<Vec<Val>>),
}

/// Combine one entry's per-CPU values.
pub fn combine(agg: Aggregation, values: &[Vec<u8>], display: &[DisplayField], cx: Ctx<'_>) -> Agg {
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
            Agg::Num(i128::from(sum_u(0)))
        }
        Aggregation::Sum => Agg::Num(i128::from(sum_i(0))),
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
            best.map_or(Agg::Nothing, |v| Agg::Num(i128::from(v)))
        }
        Aggregation::Avg => {
            let (total, count) = (sum_i(0), sum_u(8));
            Agg::Num(average(total, count).into())
        }
        Aggregation::Stats => {
            let (total, count) = (sum_i(0), sum_u(8));
            Agg::Stats {
                count,
                average: average(total, count),
                total,
            }
        }
        Aggregation::None => match values {
            [one] => Agg::Plain(fields(display, one, cx)),
            many => Agg::PerCpu(many.iter().map(|v| fields(display, v, cx)).collect()),
        },
    }
}

/// Integer average, truncated toward zero like bpftrace's; 0 for no values.
fn average(total: i64, count: u64) -> i64 {
    if count == 0 {
        0
    } else {
        (i128::from(total) / i128::from(count)) as i64
    }
}

/// One row of a map that is not a histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The key's fields (empty for a map without keys).
    pub key: Vec<Val>,
    /// The value.
    pub value: Agg,
}

/// One bucket of a histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// bpftrace's label: `[4, 8)`, `[0]`, `(..., 0)`, `[100, ...)`.
    pub label: String,
    /// Smallest value in the bucket; `None` for the open bucket below.
    pub min: Option<i128>,
    /// Largest value in the bucket (inclusive, as bpftrace's JSON has
    /// it); `None` for the open bucket above.
    pub max: Option<i128>,
    /// Values that fell into it.
    pub count: u64,
}

/// One histogram: the key it belongs to and its buckets, from the lowest
/// to the highest non-empty one, empty ones between included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistGroup {
    /// The key's fields without the bucket (empty for `@h = hist(x)`).
    pub key: Vec<Val>,
    /// The buckets.
    pub buckets: Vec<Bucket>,
}

/// A whole map, decoded and sorted as bpftrace prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapView {
    /// The map's name, with its `@`.
    pub name: String,
    /// Whether the map has keys (`@m[k]: v`) or not (`@m: v`).
    pub keyed: bool,
    /// The aggregation, which decides the JSON message type.
    pub aggregation: Aggregation,
    /// The rows or histograms.
    pub body: Body,
}

impl MapView {
    /// True when the map has no entries to show.
    pub fn is_empty(&self) -> bool {
        match &self.body {
            Body::Rows(rows) => rows.is_empty(),
            Body::Hist(groups) => groups.iter().all(|g| g.buckets.is_empty()),
        }
    }
}

/// The contents of a [`MapView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `@m[k]: v` rows: aggregations sorted by value (smallest first, so
    /// the largest is next to the prompt, as in bpftrace), plain maps by
    /// key.
    Rows(Vec<Row>),
    /// Histograms, sorted by their total count.
    Hist(Vec<HistGroup>),
}

/// A sort key for a decoded value: numbers by value, strings by their
/// bytes, stacks by their addresses.
fn sort_key(vals: &[Val]) -> Vec<i128> {
    let mut out = Vec::new();
    for v in vals {
        match v {
            Val::Uint(n) | Val::Hex(n) | Val::Sym { raw: n, .. } => out.push(i128::from(*n)),
            Val::Int(n) => out.push(i128::from(*n)),
            Val::Bool(b) => out.push(i128::from(*b)),
            Val::Str(s) => out.extend(s.bytes().map(i128::from)),
            Val::Stack(Ok(frames)) => out.extend(frames.iter().map(|f| i128::from(f.addr))),
            Val::Stack(Err(_)) => out.push(-1),
        }
    }
    out
}

/// The entries that exist. An array has every index, but an entry the
/// programs never wrote (all zero on every CPU) is as absent as a missing
/// hash key: the language lowers key-less aggregations to arrays, and
/// `@c = count()` that never ran prints nothing, as with a hash map.
fn entries<'a>(def: &MapDef, m: &'a MapSnapshot) -> impl Iterator<Item = &'a Entry> {
    let array = matches!(def.kind, MapKind::Array | MapKind::PerCpuArray);
    m.entries
        .iter()
        .filter(move |e| !array || e.values.iter().any(|v| v.iter().any(|&b| b != 0)))
}

/// Decode and sort a map that the language described.
pub fn view(def: &MapDef, m: &MapSnapshot, cx: Ctx<'_>) -> MapView {
    let d = &def.display;
    let body = match d.aggregation {
        Aggregation::Hist | Aggregation::Lhist { .. } => Body::Hist(hist_groups(def, m, cx)),
        agg => {
            let mut rows: Vec<(Vec<i128>, Row)> = entries(def, m)
                .map(|e| {
                    let key = fields(&d.key, &e.key, cx);
                    let value = combine(agg, &e.values, &d.value, cx);
                    (sort_key(&key), Row { key, value })
                })
                .collect();
            rows.sort_by(|(ka, a), (kb, b)| match (&a.value, &b.value) {
                (Agg::Num(x), Agg::Num(y)) => x.cmp(y).then_with(|| ka.cmp(kb)),
                (Agg::Stats { total: x, .. }, Agg::Stats { total: y, .. }) => {
                    x.cmp(y).then_with(|| ka.cmp(kb))
                }
                _ => ka.cmp(kb),
            });
            Body::Rows(rows.into_iter().map(|(_, r)| r).collect())
        }
    };
    // A histogram's last key field is its bucket, not part of its key.
    let keyed = match body {
        Body::Hist(_) => d.key.len() > 1,
        Body::Rows(_) => !d.key.is_empty(),
    };
    MapView {
        name: def.name.clone(),
        keyed,
        aggregation: d.aggregation,
        body,
    }
}

/// The most buckets a log2 histogram has: negatives, 0, then one per bit.
const LOG2_BUCKETS: u64 = 2 + 64;

/// How many buckets a histogram of `agg` has (bucket indices are below
/// this); `lhist` has `n = ceil((max - min) / step)` plus the two open
/// ones.
fn bucket_count(agg: Aggregation) -> u64 {
    match agg {
        Aggregation::Lhist { min, max, step } => {
            let step = i128::from(step.max(1));
            let n = (i128::from(max) - i128::from(min) + step - 1) / step;
            u64::try_from(n.max(0) + 2).unwrap_or(u64::MAX)
        }
        _ => LOG2_BUCKETS,
    }
}

/// Histograms: entries grouped by every key field but the last (the
/// bucket).
fn hist_groups(def: &MapDef, m: &MapSnapshot, cx: Ctx<'_>) -> Vec<HistGroup> {
    let d = &def.display;
    let bucket_off = d.key.last().map_or(0, |b| b.offset as usize);
    let group_fields = d.key.split_last().map_or(&[][..], |(_, g)| g);
    // (sort key, printed key, (bucket, count) pairs) per group.
    type Group = (Vec<i128>, Vec<Val>, Vec<(u64, u64)>);
    let mut groups: Vec<Group> = Vec::new();
    for e in entries(def, m) {
        let key = fields(group_fields, &e.key, cx);
        let b = uint(&e.key, bucket_off, 8);
        let count = e
            .values
            .iter()
            .fold(0u64, |a, v| a.wrapping_add(uint(v, 0, 8)));
        match groups.iter_mut().find(|g| g.1 == key) {
            Some(g) => g.2.push((b, count)),
            None => groups.push((sort_key(&key), key, vec![(b, count)])),
        }
    }
    let n = bucket_count(d.aggregation);
    let mut out: Vec<(u64, Vec<i128>, HistGroup)> = groups
        .into_iter()
        .map(|(sort, key, mut counts)| {
            counts.sort_unstable();
            let total = counts.iter().fold(0u64, |a, c| a.saturating_add(c.1));
            (
                total,
                sort,
                HistGroup {
                    key,
                    buckets: buckets(d.aggregation, n, &counts),
                },
            )
        })
        .collect();
    // bpftrace prints the busiest histogram last.
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    out.into_iter().map(|(_, _, g)| g).collect()
}

/// Most empty buckets drawn between non-empty ones; a wider span (an
/// `lhist` with millions of steps) lists only its non-empty buckets, so
/// the table stays readable and a sparse map cannot make it huge.
const MAX_SPAN: u64 = 4096;

/// The buckets from the lowest to the highest non-empty one, empty ones
/// between included as bpftrace draws them. Buckets a compiled program
/// cannot produce (an index past the last bucket) are listed after them
/// by index, so bad input shows instead of vanishing.
fn buckets(agg: Aggregation, n: u64, counts: &[(u64, u64)]) -> Vec<Bucket> {
    let mut valid = std::collections::BTreeMap::new();
    for &(b, c) in counts.iter().filter(|c| c.0 < n) {
        let total: &mut u64 = valid.entry(b).or_default();
        *total = total.saturating_add(c);
    }
    valid.retain(|_, c| *c != 0);
    let mut out = Vec::new();
    if let (Some((&lo, _)), Some((&hi, _))) = (valid.first_key_value(), valid.last_key_value()) {
        if hi - lo < MAX_SPAN {
            for b in lo..=hi {
                out.push(bucket(agg, b, valid.get(&b).copied().unwrap_or(0)));
            }
        } else {
            out.extend(valid.iter().map(|(&b, &c)| bucket(agg, b, c)));
        }
    }
    for &(b, count) in counts.iter().filter(|c| c.0 >= n) {
        out.push(Bucket {
            label: format!("<bucket {b}>"),
            min: None,
            max: None,
            count,
        });
    }
    out
}

/// `1K`, `2M`: bpftrace's power-of-two bounds.
fn unit(v: u128) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let (mut v, mut i) = (v, 0);
    while v >= 1024 && v.is_multiple_of(1024) && i + 1 < UNITS.len() {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", UNITS[i])
}

/// bpftrace's `lhist` bounds: multiples of 1 Mi or 1 Ki get a suffix.
fn lhist_unit(v: i128) -> String {
    const MI: i128 = 1 << 20;
    const KI: i128 = 1 << 10;
    if v != 0 && v % MI == 0 {
        format!("{}M", v / MI)
    } else if v != 0 && v % KI == 0 {
        format!("{}K", v / KI)
    } else {
        v.to_string()
    }
}

/// Bucket `b` of a histogram: its label and bounds.
fn bucket(agg: Aggregation, b: u64, count: u64) -> Bucket {
    let b = i128::from(b);
    let (label, min, max) = match agg {
        Aggregation::Lhist { min, max, step } => {
            let (min, max, step) = (i128::from(min), i128::from(max), i128::from(step.max(1)));
            let n = (max - min + step - 1) / step;
            if b == 0 {
                (format!("(..., {})", lhist_unit(min)), None, Some(min - 1))
            } else if b > n {
                (format!("[{}, ...)", lhist_unit(max)), Some(max), None)
            } else {
                let lo = min + (b - 1) * step;
                let hi = (lo + step).min(max);
                (
                    format!("[{}, {})", lhist_unit(lo), lhist_unit(hi)),
                    Some(lo),
                    Some(hi - 1),
                )
            }
        }
        // Log2: 0 holds negatives, 1 holds 0, k + 2 holds [2^k, 2^(k+1)).
        _ => match b {
            0 => ("(..., 0)".into(), None, Some(-1)),
            1 => ("[0]".into(), Some(0), Some(0)),
            2 => ("[1]".into(), Some(1), Some(1)),
            _ => {
                let k = (b - 2).min(63) as u32;
                let lo = 1u128 << k;
                let hi = lo << 1;
                (
                    format!("[{}, {})", unit(lo), unit(hi)),
                    Some(lo as i128),
                    Some(hi as i128 - 1),
                )
            }
        },
    };
    Bucket {
        label,
        min,
        max,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_strings() {
        assert_eq!(symbol(Meaning::ObjectKind, 4, 4).unwrap(), "KIND_GATE");
        assert_eq!(
            symbol(Meaning::Rights, 0b1_0011, 4).unwrap(),
            "READ|WRITE|MAP"
        );
        assert_eq!(symbol(Meaning::Rights, 0x40, 4).unwrap(), "0x40");
        assert_eq!(symbol(Meaning::Syscall, 8, 8).unwrap(), "map");
        assert_eq!(
            symbol(Meaning::Return, (-71i64) as u64, 8).unwrap(),
            "-EPROTO"
        );
        assert_eq!(
            symbol(Meaning::FaultOutcome, 0, 4).unwrap(),
            "FAULT_RESOLVED"
        );
        assert_eq!(symbol(Meaning::Task, 3, 4), None);
        assert_eq!(symbol(Meaning::Syscall, 999, 8), None);
        let s = Symbolizer::none();
        let cx = Ctx {
            stacks: None,
            symbols: &s,
        };
        assert_eq!(
            field(FieldFormat::Str(8), b"init\0\0\0\0", 0, cx),
            Val::Str("init".into())
        );
        assert_eq!(
            field(FieldFormat::Signed(4), &[0xfe, 0xff, 0xff, 0xff], 0, cx),
            Val::Int(-2)
        );
        // Fields past the end of the bytes read as zero, never panic.
        assert_eq!(field(FieldFormat::Unsigned(8), &[1], 4, cx), Val::Uint(0));
        assert_eq!(
            field(FieldFormat::Str(8), b"a", usize::MAX, cx),
            Val::Str("".into())
        );
        assert_eq!(uint(&[1, 2], usize::MAX, 8), 0);
    }

    #[test]
    fn log2_bucket_bounds() {
        let b = |i| bucket(Aggregation::Hist, i, 0);
        assert_eq!(
            (b(0).label.as_str(), b(0).min, b(0).max),
            ("(..., 0)", None, Some(-1))
        );
        assert_eq!((b(1).label.as_str(), b(1).max), ("[0]", Some(0)));
        assert_eq!((b(2).label.as_str(), b(2).max), ("[1]", Some(1)));
        assert_eq!(
            (b(3).label.as_str(), b(3).min, b(3).max),
            ("[2, 4)", Some(2), Some(3))
        );
        assert_eq!(b(12).label, "[1K, 2K)");
        assert_eq!(b(22).label, "[1M, 2M)");
        assert_eq!(b(65).label, "[8E, 16E)");
    }

    #[test]
    fn linear_bucket_bounds() {
        let agg = Aggregation::Lhist {
            min: 0,
            max: 100,
            step: 10,
        };
        let b = |i| bucket(agg, i, 0);
        assert_eq!((b(0).label.as_str(), b(0).max), ("(..., 0)", Some(-1)));
        assert_eq!(
            (b(1).label.as_str(), b(1).min, b(1).max),
            ("[0, 10)", Some(0), Some(9))
        );
        assert_eq!(b(10).label, "[90, 100)");
        assert_eq!(
            (b(11).label.as_str(), b(11).min, b(11).max),
            ("[100, ...)", Some(100), None)
        );
        let kib = Aggregation::Lhist {
            min: 0,
            max: 4096,
            step: 1024,
        };
        assert_eq!(bucket(kib, 2, 0).label, "[1K, 2K)");
        assert_eq!(bucket_count(kib), 6);
    }

    #[test]
    fn sparse_linear_histograms_list_only_their_buckets() {
        let agg = Aggregation::Lhist {
            min: 0,
            max: 1_000_000_000,
            step: 1,
        };
        let bs = buckets(agg, bucket_count(agg), &[(1, 1), (999_999, 2), (1, 1)]);
        let labels: Vec<&str> = bs.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["[0, 1)", "[999998, 999999)"]);
        assert_eq!(bs[0].count, 2, "duplicate buckets add up");
    }

    #[test]
    fn out_of_range_buckets_do_not_stretch_the_table() {
        // A bucket index no program can produce must not make the printer
        // walk 2^64 empty buckets.
        let bs = buckets(Aggregation::Hist, LOG2_BUCKETS, &[(3, 1), (u64::MAX, 2)]);
        assert_eq!(bs.len(), 2);
        assert_eq!(bs[1].label, format!("<bucket {}>", u64::MAX));
    }
}
