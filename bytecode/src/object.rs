//! The probe object: what the compiler produces and the kernel loads.
//!
//! An object holds map definitions, programs (an attach point plus
//! instructions plus a line table back to the script), and the format table
//! that printf records refer to. It is serialized with postcard behind a
//! magic number and a version, and it travels from the host into the kernel,
//! so [`ProbeObject::from_bytes`] treats its input as hostile: every failure
//! is an [`ObjectError`], allocations are bounded by the input size, and
//! [`ProbeObject::validate`] enforces the limits below before anything else
//! looks at the contents.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::abi::AttachPoint;
use crate::insn::{INSN_SIZE, Insn, InsnIdx};

/// First bytes of every serialized object.
pub const MAGIC: [u8; 4] = *b"CSPO";
/// Format version; bumped on any incompatible change.
pub const VERSION: u16 = 1;

/// Limits a valid object respects. The kernel enforces them on load.
pub mod limits {
    /// Maps per object.
    pub const MAX_MAPS: usize = 64;
    /// Programs per object.
    pub const MAX_PROGRAMS: usize = 64;
    /// Instruction slots per program.
    pub const MAX_INSNS: usize = 65_536;
    /// printf formats per object.
    pub const MAX_FORMATS: usize = 256;
    /// Arguments per printf format.
    pub const MAX_FORMAT_ARGS: usize = 16;
    /// Bytes in a name or format template.
    pub const MAX_NAME: usize = 256;
    /// Bytes in a map key: keys are built on the 512-byte stack.
    pub const MAX_KEY_SIZE: u32 = 512;
    /// Bytes in a map value.
    pub const MAX_VALUE_SIZE: u32 = 65_536;
    /// Entries in a map (or bytes in a ring buffer).
    pub const MAX_ENTRIES: u32 = 1 << 24;
    /// Frames kept per stack in a stack-trace map.
    pub const MAX_STACK_DEPTH: u32 = 127;
}

/// The kinds of map, as in Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MapKind {
    /// Hash table; fixed capacity, updates never allocate.
    Hash,
    /// Array indexed by a `u32` key; every entry exists and starts zeroed.
    Array,
    /// One hash table per CPU.
    PerCpuHash,
    /// One array per CPU.
    PerCpuArray,
    /// Hash table that evicts the least recently used entry when full.
    LruHash,
    /// Ring buffer of variable-size records; `max_entries` is its size in
    /// bytes (a power of two); key and value size are 0.
    RingBuf,
    /// Stacks by id: key `u32`, value `max_depth * 8` bytes of addresses.
    StackTrace,
}

impl MapKind {
    /// Every kind.
    pub const ALL: [MapKind; 7] = [
        MapKind::Hash,
        MapKind::Array,
        MapKind::PerCpuHash,
        MapKind::PerCpuArray,
        MapKind::LruHash,
        MapKind::RingBuf,
        MapKind::StackTrace,
    ];

    /// The name used on the command line (`--map hash:8:8:1024`).
    pub const fn name(self) -> &'static str {
        match self {
            MapKind::Hash => "hash",
            MapKind::Array => "array",
            MapKind::PerCpuHash => "percpu_hash",
            MapKind::PerCpuArray => "percpu_array",
            MapKind::LruHash => "lru_hash",
            MapKind::RingBuf => "ringbuf",
            MapKind::StackTrace => "stack_trace",
        }
    }

    /// Parse a command-line name.
    pub fn from_name(s: &str) -> Option<MapKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// True for kinds with one copy of each value per CPU.
    pub const fn per_cpu(self) -> bool {
        matches!(self, MapKind::PerCpuHash | MapKind::PerCpuArray)
    }
}

impl fmt::Display for MapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A map definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDef {
    /// The name, as written in the script (`@live`), or `map<N>` for raw programs.
    pub name: String,
    /// The kind.
    pub kind: MapKind,
    /// Key size in bytes (0 for ring buffers).
    pub key_size: u32,
    /// Value size in bytes (0 for ring buffers).
    pub value_size: u32,
    /// Capacity in entries (bytes for ring buffers).
    pub max_entries: u32,
    /// How the host prints the contents. The kernel ignores it.
    pub display: MapDisplay,
}

/// How the host turns a map's raw bytes into output. Filled by the language;
/// raw programs get [`MapDisplay::default`] (hex keys, unsigned values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDisplay {
    /// The fields of the key, in order.
    pub key: Vec<DisplayField>,
    /// The fields of the value, in order.
    pub value: Vec<DisplayField>,
    /// The aggregation the value holds, which says how to combine per-CPU
    /// copies and how to print.
    pub aggregation: Aggregation,
    /// Printed automatically at the end (bpftrace prints unprinted maps at exit).
    pub print_at_end: bool,
}

/// One typed field of a key or value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayField {
    /// Byte offset in the key or value.
    pub offset: u32,
    /// How to print it.
    pub format: FieldFormat,
}

/// How to print a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldFormat {
    /// Unsigned integer of 1, 2, 4 or 8 bytes.
    Unsigned(u8),
    /// Signed integer of 1, 2, 4 or 8 bytes.
    Signed(u8),
    /// Hexadecimal integer of 1, 2, 4 or 8 bytes.
    Hex(u8),
    /// Boolean (u8 or wider; nonzero is true) of this many bytes.
    Bool(u8),
    /// NUL-padded string of this many bytes.
    Str(u16),
    /// A user stack id (i64) in the object's stack map, printed as frames.
    UserStack,
    /// A kernel stack id (i64) in the object's stack map, printed as frames.
    KernelStack,
    /// A value with an ABI meaning (object kind, rights, fault outcome...),
    /// of this many bytes, printed symbolically where the meaning has names.
    Symbol(crate::abi::fields::Meaning, u8),
}

/// What a map's value aggregates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregation {
    /// A plain value: the last write wins; per-CPU copies are listed per CPU.
    #[default]
    None,
    /// `count()`: u64, summed over CPUs.
    Count,
    /// `sum(x)`: i64, summed over CPUs.
    Sum,
    /// `min(x)`: `{value: i64, seen: u64}`, min over CPUs that saw a value.
    Min,
    /// `max(x)`: `{value: i64, seen: u64}`, max over CPUs that saw a value.
    Max,
    /// `avg(x)`: `{sum: i64, count: u64}`.
    Avg,
    /// `stats(x)`: count, average and total; the value layout is the
    /// language's (docs/language.md).
    Stats,
    /// `hist(x)`: the last key field is the log2 bucket (u64); value is a count.
    Hist,
    /// `lhist(x, min, max, step)`: the last key field is the bucket index.
    Lhist {
        /// Lowest bucket bound.
        min: i64,
        /// Highest bucket bound.
        max: i64,
        /// Bucket width.
        step: u64,
    },
}

/// Where a program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachSpec {
    /// The attach point.
    pub point: AttachPoint,
    /// For [`AttachPoint::Interval`], the period in nanoseconds; else 0.
    pub period_ns: u64,
}

/// A byte range of the source script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// Instructions from `insn` up to the next entry came from `span`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineEntry {
    /// First instruction slot of the run.
    pub insn: InsnIdx,
    /// The script bytes they came from.
    pub span: Span,
}

/// One program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramDef {
    /// The probe as written (`cap:alloc`), for listings and messages.
    pub name: String,
    /// Where it attaches.
    pub attach: AttachSpec,
    /// The instruction slots.
    #[serde(with = "insn_bytes")]
    pub insns: Vec<Insn>,
    /// Source spans, sorted by `insn`; may be empty for raw programs.
    pub lines: Vec<LineEntry>,
}

impl ProgramDef {
    /// The source span an instruction came from, if the line table knows.
    pub fn span_of(&self, idx: InsnIdx) -> Option<Span> {
        let i = self.lines.partition_point(|e| e.insn <= idx);
        i.checked_sub(1).map(|i| self.lines[i].span)
    }
}

/// How a printf argument is converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conversion {
    /// `%d`: signed decimal.
    Signed,
    /// `%u`: unsigned decimal.
    Unsigned,
    /// `%x`: hexadecimal.
    Hex,
    /// `%s`: NUL-padded string.
    Str,
    /// `%p`: pointer-like hexadecimal with `0x`.
    Pointer,
}

/// One printf argument in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatArg {
    /// How to print it.
    pub conv: Conversion,
    /// Its size in the record, in bytes (8 for integers, the buffer for strings).
    pub size: u32,
}

/// A printf format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatSpec {
    /// The template with its `%` conversions, as written.
    pub template: String,
    /// The arguments, in record order.
    pub args: Vec<FormatArg>,
}

/// Ring-buffer records: what programs send to the host.
///
/// Every record starts with a [`RecordHeader`]; the payload depends on its kind.
pub mod record {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// The first 8 bytes of every record.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
    pub struct RecordHeader {
        /// One of the `KIND_*` constants.
        pub kind: u32,
        /// The format index (printf) or map index (map actions).
        pub id: u32,
    }

    /// printf: payload is the arguments as the format's `args` describe.
    pub const KIND_PRINTF: u32 = 1;
    /// print(@map): the host prints the map now.
    pub const KIND_PRINT_MAP: u32 = 2;
    /// clear(@map): the host deletes every entry.
    pub const KIND_CLEAR_MAP: u32 = 3;
    /// zero(@map): the host zeroes every value.
    pub const KIND_ZERO_MAP: u32 = 4;
    /// exit(): the host detaches and ends the session.
    pub const KIND_EXIT: u32 = 5;
}

/// A whole probe object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeObject {
    /// Map table; `lddw rX, map[N]` names entry N.
    pub maps: Vec<MapDef>,
    /// Programs.
    pub programs: Vec<ProgramDef>,
    /// printf formats, by index.
    pub formats: Vec<FormatSpec>,
}

/// Why bytes are not a valid probe object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// Missing or wrong magic number.
    BadMagic,
    /// Written by an incompatible version.
    BadVersion(u16),
    /// The postcard body does not decode.
    Malformed,
    /// Bytes left over after the body.
    TrailingBytes(usize),
    /// A limit from [`limits`] is exceeded; the string names it.
    Limit(&'static str),
    /// A map definition is inconsistent.
    BadMap {
        /// Which map.
        map: u32,
        /// What is wrong.
        reason: &'static str,
    },
    /// A program is inconsistent.
    BadProgram {
        /// Which program.
        program: u32,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::BadMagic => write!(f, "not a capscope probe object (bad magic)"),
            ObjectError::BadVersion(v) => {
                write!(f, "object format version {v}, expected {VERSION}")
            }
            ObjectError::Malformed => write!(f, "malformed object body"),
            ObjectError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the object"),
            ObjectError::Limit(what) => write!(f, "object exceeds the limit on {what}"),
            ObjectError::BadMap { map, reason } => write!(f, "map {map}: {reason}"),
            ObjectError::BadProgram { program, reason } => write!(f, "program {program}: {reason}"),
        }
    }
}

impl ProbeObject {
    /// Serialize: magic, version (u16 little-endian), postcard body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        // Serializing owned, in-memory data into a Vec cannot fail.
        let body = postcard::to_allocvec(self).unwrap_or_default();
        out.extend_from_slice(&body);
        out
    }

    /// Decode and validate. Never panics; allocation is bounded by the input.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProbeObject, ObjectError> {
        let rest = bytes.strip_prefix(&MAGIC).ok_or(ObjectError::BadMagic)?;
        let (ver, body) = rest.split_first_chunk::<2>().ok_or(ObjectError::BadMagic)?;
        let ver = u16::from_le_bytes(*ver);
        if ver != VERSION {
            return Err(ObjectError::BadVersion(ver));
        }
        let (obj, tail): (ProbeObject, _) =
            postcard::take_from_bytes(body).map_err(|_| ObjectError::Malformed)?;
        if !tail.is_empty() {
            return Err(ObjectError::TrailingBytes(tail.len()));
        }
        obj.validate()?;
        Ok(obj)
    }

    /// Check the structural limits. Semantic checks of the code are the
    /// verifier's job.
    pub fn validate(&self) -> Result<(), ObjectError> {
        use limits::*;
        if self.maps.len() > MAX_MAPS {
            return Err(ObjectError::Limit("maps"));
        }
        if self.programs.len() > MAX_PROGRAMS {
            return Err(ObjectError::Limit("programs"));
        }
        if self.formats.len() > MAX_FORMATS {
            return Err(ObjectError::Limit("formats"));
        }
        for (i, m) in self.maps.iter().enumerate() {
            let bad = |reason| ObjectError::BadMap {
                map: i as u32,
                reason,
            };
            if m.name.len() > MAX_NAME {
                return Err(bad("name too long"));
            }
            if m.max_entries == 0 || m.max_entries > MAX_ENTRIES {
                return Err(bad("max_entries out of range"));
            }
            match m.kind {
                MapKind::RingBuf => {
                    if m.key_size != 0 || m.value_size != 0 {
                        return Err(bad("ring buffer key and value size must be 0"));
                    }
                    if !m.max_entries.is_power_of_two() || m.max_entries < 4096 {
                        return Err(bad(
                            "ring buffer size must be a power of two of at least 4096",
                        ));
                    }
                }
                MapKind::Array | MapKind::PerCpuArray if m.key_size != 4 => {
                    return Err(bad("array keys are 4 bytes"));
                }
                MapKind::StackTrace => {
                    if m.key_size != 4 {
                        return Err(bad("stack trace keys are 4 bytes"));
                    }
                    if m.value_size == 0
                        || m.value_size % 8 != 0
                        || m.value_size / 8 > MAX_STACK_DEPTH
                    {
                        return Err(bad(
                            "stack trace values are 8 to 1016 bytes, a multiple of 8",
                        ));
                    }
                }
                _ => {}
            }
            if m.kind != MapKind::RingBuf {
                if m.key_size == 0 || m.key_size > MAX_KEY_SIZE {
                    return Err(bad("key size out of range"));
                }
                if m.value_size == 0 || m.value_size > MAX_VALUE_SIZE {
                    return Err(bad("value size out of range"));
                }
            }
        }
        for (i, p) in self.programs.iter().enumerate() {
            let bad = |reason| ObjectError::BadProgram {
                program: i as u32,
                reason,
            };
            if p.name.len() > MAX_NAME {
                return Err(bad("name too long"));
            }
            if p.insns.is_empty() {
                return Err(bad("no instructions"));
            }
            if p.insns.len() > MAX_INSNS {
                return Err(bad("too many instructions"));
            }
            if (p.attach.point == AttachPoint::Interval) != (p.attach.period_ns != 0) {
                return Err(bad("interval programs, and only they, have a period"));
            }
            if !p.lines.windows(2).all(|w| w[0].insn < w[1].insn) {
                return Err(bad("line table not sorted"));
            }
            if p.lines
                .iter()
                .any(|e| e.insn.as_usize() >= p.insns.len() || e.span.start > e.span.end)
            {
                return Err(bad("line table entry out of range"));
            }
        }
        for f in &self.formats {
            if f.template.len() > MAX_NAME * 4 {
                return Err(ObjectError::Limit("format template length"));
            }
            if f.args.len() > MAX_FORMAT_ARGS {
                return Err(ObjectError::Limit("format arguments"));
            }
        }
        Ok(())
    }
}

/// Instructions travel as raw little-endian bytecode, so an object cannot
/// carry a register field wider than its 4-bit encoding.
mod insn_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(insns: &[Insn], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&crate::insn::slots_to_bytes(insns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Insn>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<Insn>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "bytecode, a multiple of {INSN_SIZE} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Vec<Insn>, E> {
                crate::insn::slots_from_bytes(b).map_err(|_| E::custom("truncated instruction"))
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                b: &'de [u8],
            ) -> Result<Vec<Insn>, E> {
                self.visit_bytes(b)
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> ProbeObject {
        ProbeObject {
            maps: vec![MapDef {
                name: "@counts".into(),
                kind: MapKind::PerCpuHash,
                key_size: 8,
                value_size: 8,
                max_entries: 1024,
                display: MapDisplay {
                    key: vec![DisplayField {
                        offset: 0,
                        format: FieldFormat::Unsigned(8),
                    }],
                    value: vec![DisplayField {
                        offset: 0,
                        format: FieldFormat::Unsigned(8),
                    }],
                    aggregation: Aggregation::Count,
                    print_at_end: true,
                },
            }],
            programs: vec![ProgramDef {
                name: "cap:alloc".into(),
                attach: AttachSpec {
                    point: AttachPoint::CapAlloc,
                    period_ns: 0,
                },
                insns: vec![
                    Insn {
                        code: 0xb7,
                        ..Default::default()
                    },
                    Insn {
                        code: 0x95,
                        ..Default::default()
                    },
                ],
                lines: vec![LineEntry {
                    insn: InsnIdx(0),
                    span: Span { start: 0, end: 9 },
                }],
            }],
            formats: vec![FormatSpec {
                template: "slot %d\n".into(),
                args: vec![FormatArg {
                    conv: Conversion::Signed,
                    size: 8,
                }],
            }],
        }
    }

    #[test]
    fn roundtrip() {
        let obj = sample();
        assert_eq!(ProbeObject::from_bytes(&obj.to_bytes()), Ok(obj));
    }

    #[test]
    fn every_truncation_and_many_mutations_are_errors_not_panics() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(
                ProbeObject::from_bytes(&bytes[..n]).is_err(),
                "prefix {n} accepted"
            );
        }
        for i in 0..bytes.len() {
            for x in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= x;
                let _ = ProbeObject::from_bytes(&b);
            }
        }
    }

    #[test]
    fn validation_rejects_inconsistent_objects() {
        let mut o = sample();
        o.maps[0].key_size = 0;
        assert!(matches!(o.validate(), Err(ObjectError::BadMap { .. })));
        let mut o = sample();
        o.programs[0].attach.period_ns = 5;
        assert!(matches!(o.validate(), Err(ObjectError::BadProgram { .. })));
        let mut o = sample();
        o.programs[0].lines[0].insn = InsnIdx(9);
        assert!(matches!(o.validate(), Err(ObjectError::BadProgram { .. })));
        let mut b = sample().to_bytes();
        b.push(0);
        assert_eq!(
            ProbeObject::from_bytes(&b),
            Err(ObjectError::TrailingBytes(1))
        );
        assert_eq!(ProbeObject::from_bytes(b"XXXX"), Err(ObjectError::BadMagic));
    }

    #[test]
    fn span_lookup_uses_the_last_entry_at_or_before() {
        let mut p = sample().programs.remove(0);
        p.lines.push(LineEntry {
            insn: InsnIdx(1),
            span: Span { start: 10, end: 12 },
        });
        assert_eq!(p.span_of(InsnIdx(0)), Some(Span { start: 0, end: 9 }));
        assert_eq!(p.span_of(InsnIdx(1)), Some(Span { start: 10, end: 12 }));
    }
}
