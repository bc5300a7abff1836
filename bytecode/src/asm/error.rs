//! Assembly errors: where (line and column) and what was expected.

use alloc::string::String;
use core::fmt;

/// An assembly error at a position in the source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters (a tab counts as one).
    pub column: u32,
    /// Byte offset of the offending text from the start of the source, for
    /// rendering the error with a source snippet.
    pub offset: usize,
    /// Byte length of the offending text (0 at the end of a line).
    pub len: usize,
    /// What is wrong.
    pub kind: AsmErrorKind,
}

/// What is wrong with a line of assembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsmErrorKind {
    /// A token that does not fit the syntax at this point.
    Unexpected {
        /// What the syntax allows here.
        expected: &'static str,
        /// What the line has instead (`None` at the end of the line).
        found: Option<String>,
    },
    /// The line starts with a word that begins no instruction.
    UnknownMnemonic(String),
    /// A word in register position that is not `r0`-`r10` or `w0`-`w10`.
    BadRegister(String),
    /// A register of the wrong width: `w1 += r2`, `w0 = *(u64 *)(r1 + 0)`,
    /// or a `w` register as a base address.
    RegisterWidth {
        /// The register as written.
        found: String,
        /// What this position requires.
        expected: &'static str,
    },
    /// An operand that must repeat another register does not:
    /// `r1 = -r2`, `r1 = be16 r2`, `r3 = atomic_fetch_add(.., r2)`, or a
    /// `cmpxchg` not on `r0`.
    SameRegister {
        /// The register required here.
        expected: String,
        /// The register as written.
        found: String,
        /// Why it must be that one.
        why: &'static str,
    },
    /// A numeric literal that does not parse.
    BadNumber(String),
    /// A number outside the range of the field it goes into.
    OutOfRange {
        /// What the number is for.
        what: &'static str,
        /// The value as written.
        value: i128,
        /// Smallest allowed value.
        min: i128,
        /// Largest allowed value.
        max: i128,
    },
    /// A jump or local call names a label that no line defines.
    UnknownLabel(String),
    /// A label is defined twice.
    DuplicateLabel {
        /// The label.
        name: String,
        /// Line of the first definition.
        first_line: u32,
    },
    /// `call NAME` where NAME is neither a helper nor a label.
    UnknownHelper(String),
    /// `call NAME` where NAME is both a helper and a label.
    AmbiguousCall(String),
    /// `rX = NAME[N] ll` with a NAME that is no `lddw` source kind.
    UnknownLoadKind(String),
    /// An access type that is not allowed here (`u128`, `s64`, an atomic
    /// on `u8`, a store through `s32`).
    BadSize {
        /// The type as written.
        found: String,
        /// The types allowed here.
        expected: &'static str,
    },
    /// A label is farther away than the jump's offset field can reach.
    JumpOutOfRange {
        /// The label.
        label: String,
        /// The offset, in slots, relative to the slot after the jump.
        offset: i64,
        /// The smallest offset the instruction can encode.
        min: i64,
        /// The largest offset the instruction can encode.
        max: i64,
    },
    /// A well-formed line that encodes no RFC 9669 instruction; the text
    /// says which and what to write instead.
    Unsupported(&'static str),
}

impl AsmErrorKind {
    /// A stable, short name for the kind, used by the data-driven tests and
    /// usable as an error code.
    pub const fn code(&self) -> &'static str {
        match self {
            AsmErrorKind::Unexpected { .. } => "unexpected",
            AsmErrorKind::UnknownMnemonic(_) => "unknown-mnemonic",
            AsmErrorKind::BadRegister(_) => "bad-register",
            AsmErrorKind::RegisterWidth { .. } => "register-width",
            AsmErrorKind::SameRegister { .. } => "same-register",
            AsmErrorKind::BadNumber(_) => "bad-number",
            AsmErrorKind::OutOfRange { .. } => "out-of-range",
            AsmErrorKind::UnknownLabel(_) => "unknown-label",
            AsmErrorKind::DuplicateLabel { .. } => "duplicate-label",
            AsmErrorKind::UnknownHelper(_) => "unknown-helper",
            AsmErrorKind::AmbiguousCall(_) => "ambiguous-call",
            AsmErrorKind::UnknownLoadKind(_) => "unknown-load-kind",
            AsmErrorKind::BadSize { .. } => "bad-size",
            AsmErrorKind::JumpOutOfRange { .. } => "jump-out-of-range",
            AsmErrorKind::Unsupported(_) => "unsupported",
        }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.kind)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AsmError {}

impl fmt::Display for AsmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmErrorKind::Unexpected { expected, found } => match found {
                Some(t) => write!(f, "expected {expected}, found `{t}`"),
                None => write!(f, "expected {expected}, found the end of the line"),
            },
            AsmErrorKind::UnknownMnemonic(m) => write!(
                f,
                "unknown instruction `{m}`: expected an assignment to a register \
                 (`r1 = 2`, `r1 += r2`, `r0 = *(u64 *)(r1 + 8)`), a store \
                 (`*(u64 *)(r10 - 8) = r1`), `lock`, `if`, `goto`, `gotol`, `call` or `exit`"
            ),
            AsmErrorKind::BadRegister(r) => {
                write!(f, "`{r}` is not a register: expected r0-r10 or w0-w10")
            }
            AsmErrorKind::RegisterWidth { found, expected } => {
                write!(f, "expected {expected}, found `{found}`")
            }
            AsmErrorKind::SameRegister {
                expected,
                found,
                why,
            } => write!(f, "expected `{expected}` ({why}), found `{found}`"),
            AsmErrorKind::BadNumber(n) => write!(
                f,
                "`{n}` is not a number: expected decimal digits or 0x and hex digits"
            ),
            AsmErrorKind::OutOfRange {
                what,
                value,
                min,
                max,
            } => {
                // Literals too long for an i128 saturate while parsing, so
                // their value would be wrong: leave it out.
                if value.unsigned_abs() >= i128::MAX.unsigned_abs() {
                    write!(f, "{what} is out of range: expected {min} to {max}")
                } else {
                    write!(f, "{what} {value} is out of range: expected {min} to {max}")
                }
            }
            AsmErrorKind::UnknownLabel(l) => {
                write!(f, "unknown label `{l}`: no line defines `{l}:`")
            }
            AsmErrorKind::DuplicateLabel { name, first_line } => {
                write!(f, "label `{name}` is already defined on line {first_line}")
            }
            AsmErrorKind::UnknownHelper(h) => write!(
                f,
                "unknown helper `{h}`: expected a helper name (such as map_lookup_elem), \
                 a helper number, `pc+N`, `btf#N` or a label"
            ),
            AsmErrorKind::AmbiguousCall(h) => write!(
                f,
                "`call {h}` is ambiguous: `{h}` is both a helper and a label; rename the label"
            ),
            AsmErrorKind::UnknownLoadKind(k) => write!(
                f,
                "unknown lddw source `{k}`: expected map, map_value, var_addr, code_addr, \
                 map_idx or map_idx_value"
            ),
            AsmErrorKind::BadSize { found, expected } => {
                write!(
                    f,
                    "access type `{found}` is not allowed here: expected {expected}"
                )
            }
            AsmErrorKind::JumpOutOfRange {
                label,
                offset,
                min,
                max,
            } => {
                write!(
                    f,
                    "label `{label}` is {offset} slots away: expected an offset from {min} to {max}"
                )?;
                if *max == i64::from(i16::MAX) {
                    write!(f, " (`gotol` reaches further)")?;
                }
                Ok(())
            }
            AsmErrorKind::Unsupported(what) => f.write_str(what),
        }
    }
}
