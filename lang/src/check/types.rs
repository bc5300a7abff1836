//! The language's types and their memory layouts.
//!
//! Integers are computed in 64-bit registers whatever their type; the width
//! matters where a value is *stored* (map keys and values, records), and the
//! [`Meaning`] travels with values read from the context so the host can
//! print a syscall number as its name. Layouts are C's: every field at a
//! multiple of its alignment, the whole rounded up to the largest alignment.

use std::fmt;

use capscope_bytecode::abi::fields::{FieldType, Meaning};

/// An integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntTy {
    /// Signed (comparisons, division, `>>` and printing follow it).
    pub signed: bool,
    /// Storage size: 1, 2, 4 or 8.
    pub bytes: u8,
    /// What the value stands for, for printing.
    pub meaning: Meaning,
}

impl IntTy {
    /// `u64`, a plain number.
    pub const U64: IntTy = IntTy {
        signed: false,
        bytes: 8,
        meaning: Meaning::Number,
    };
    /// `i64`, a plain number.
    pub const I64: IntTy = IntTy {
        signed: true,
        bytes: 8,
        meaning: Meaning::Number,
    };

    /// The type of a context field.
    pub fn of_field(ty: FieldType, meaning: Meaning) -> Type {
        match ty {
            FieldType::U32 => Type::Int(IntTy {
                signed: false,
                bytes: 4,
                meaning,
            }),
            FieldType::U64 => Type::Int(IntTy {
                signed: false,
                bytes: 8,
                meaning,
            }),
            FieldType::I64 => Type::Int(IntTy {
                signed: true,
                bytes: 8,
                meaning,
            }),
            FieldType::Bool => Type::Bool,
        }
    }

    /// The type a cast names (`u8` ... `i64`).
    pub fn from_name(name: &str) -> Option<IntTy> {
        let (signed, bits) = match name.split_at_checked(1)? {
            ("u", b) => (false, b),
            ("i", b) => (true, b),
            _ => return None,
        };
        let bytes = match bits {
            "8" => 1,
            "16" => 2,
            "32" => 4,
            "64" => 8,
            _ => return None,
        };
        Some(IntTy {
            signed,
            bytes,
            meaning: Meaning::Number,
        })
    }
}

/// Which stack a stack id walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackKind {
    /// `ustack`
    User,
    /// `kstack`
    Kernel,
}

/// A value's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// An integer.
    Int(IntTy),
    /// `true`/`false`, stored as one byte.
    Bool,
    /// A NUL-padded string in a buffer of this many bytes.
    Str(u16),
    /// A stack id (`i64`) in the object's stack map.
    Stack(StackKind),
    /// A tuple.
    Tuple(Vec<Type>),
    /// No value (`delete(...)`, `printf(...)`).
    Void,
    /// The type of something already reported as an error; it fits
    /// everywhere so one mistake gives one message.
    Error,
}

impl Type {
    /// Storage size in bytes.
    pub fn size(&self) -> u32 {
        match self {
            Type::Int(i) => u32::from(i.bytes),
            Type::Bool => 1,
            Type::Str(n) => u32::from(*n),
            Type::Stack(_) => 8,
            Type::Tuple(items) => layout(items).1,
            Type::Void | Type::Error => 8,
        }
    }

    /// Alignment in bytes.
    pub fn align(&self) -> u32 {
        match self {
            Type::Int(i) => u32::from(i.bytes),
            Type::Bool | Type::Str(_) => 1,
            Type::Stack(_) | Type::Void | Type::Error => 8,
            Type::Tuple(items) => items.iter().map(Type::align).max().unwrap_or(1),
        }
    }

    /// True for integers and bools: what arithmetic, conditions and `%d` take.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Bool | Type::Error)
    }

    /// True for values that live in a stack buffer rather than a register.
    pub fn is_aggregate(&self) -> bool {
        matches!(self, Type::Str(_) | Type::Tuple(_))
    }

    /// The integer view of a scalar (bool is an unsigned byte).
    pub fn int(&self) -> IntTy {
        match self {
            Type::Int(i) => *i,
            Type::Bool => IntTy {
                signed: false,
                bytes: 1,
                meaning: Meaning::Number,
            },
            _ => IntTy::U64,
        }
    }

    /// True for signed integers.
    pub fn signed(&self) -> bool {
        matches!(self, Type::Int(i) if i.signed)
    }

    /// C's usual arithmetic conversions, for 64-bit registers: narrower
    /// unsigned integers and bools promote to `i64` (every value fits), so
    /// an operation is unsigned exactly when one side is a `u64`.
    pub fn arith_signed(a: &Type, b: &Type) -> bool {
        let promoted_signed = |t: &Type| match t {
            Type::Int(i) => i.signed || i.bytes < 8,
            _ => true,
        };
        promoted_signed(a) && promoted_signed(b)
    }

    /// The type both `self` and `other` fit in, if they are of one kind:
    /// integers widen (meaning kept only if equal, signed if either is),
    /// strings take the larger buffer, tuples unify element-wise.
    pub fn unify(&self, other: &Type) -> Option<Type> {
        Some(match (self, other) {
            (Type::Error, t) | (t, Type::Error) => t.clone(),
            (Type::Int(a), Type::Int(b)) => Type::Int(IntTy {
                signed: a.signed || b.signed,
                bytes: a.bytes.max(b.bytes),
                meaning: if a.meaning == b.meaning {
                    a.meaning
                } else {
                    Meaning::Number
                },
            }),
            (Type::Bool, Type::Bool) => Type::Bool,
            (Type::Str(a), Type::Str(b)) => Type::Str(*a.max(b)),
            (Type::Stack(a), Type::Stack(b)) if a == b => Type::Stack(*a),
            (Type::Tuple(a), Type::Tuple(b)) if a.len() == b.len() => Type::Tuple(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| x.unify(y))
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        })
    }

    /// Replace types inference left unknown by `u64`.
    pub fn default_unknown(&mut self) {
        match self {
            Type::Error => *self = Type::Int(IntTy::U64),
            Type::Tuple(items) => items.iter_mut().for_each(Type::default_unknown),
            _ => {}
        }
    }

    /// True when a value of type `self` can be stored where `slot` is
    /// expected (after unification, every use fits the unified type).
    pub fn fits(&self, slot: &Type) -> bool {
        slot.unify(self).as_ref() == Some(slot)
            || matches!(
                (self, slot),
                (Type::Int(_), Type::Int(_)) | (Type::Error, _) | (_, Type::Error)
            )
    }
}

/// Offsets of `fields` laid out as a C struct, and the struct's size.
pub fn layout(fields: &[Type]) -> (Vec<u32>, u32) {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut end = 0u32;
    let mut align = 1u32;
    for f in fields {
        let a = f.align();
        align = align.max(a);
        let off = end.next_multiple_of(a);
        offsets.push(off);
        end = off.saturating_add(f.size());
    }
    (offsets, end.next_multiple_of(align))
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int(i) => write!(f, "{}{}", if i.signed { "i" } else { "u" }, i.bytes * 8),
            Type::Bool => f.write_str("bool"),
            Type::Str(n) => write!(f, "string[{n}]"),
            Type::Stack(StackKind::User) => f.write_str("ustack"),
            Type::Stack(StackKind::Kernel) => f.write_str("kstack"),
            Type::Tuple(items) => {
                f.write_str("(")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
            Type::Void => f.write_str("no value"),
            Type::Error => f.write_str("{error}"),
        }
    }
}

/// What an aggregation map's values hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `count()`
    Count,
    /// `sum(x)`
    Sum,
    /// `min(x)`
    Min,
    /// `max(x)`
    Max,
    /// `avg(x)`
    Avg,
    /// `stats(x)`
    Stats,
    /// `hist(x)`
    Hist,
    /// `lhist(x, min, max, step)`
    Lhist {
        /// Lowest bound.
        min: i64,
        /// Highest bound.
        max: i64,
        /// Bucket width.
        step: u64,
    },
}

impl AggKind {
    /// The function name.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::Avg => "avg",
            AggKind::Stats => "stats",
            AggKind::Hist => "hist",
            AggKind::Lhist { .. } => "lhist",
        }
    }

    /// Value size in bytes (the layouts are in docs/language.md).
    pub fn value_size(self) -> u32 {
        match self {
            AggKind::Min | AggKind::Max | AggKind::Avg | AggKind::Stats => 16,
            _ => 8,
        }
    }

    /// True when the key gets a trailing `u64` bucket field.
    pub fn bucketed(self) -> bool {
        matches!(self, AggKind::Hist | AggKind::Lhist { .. })
    }
}

impl fmt::Display for AggKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggKind::Lhist { min, max, step } => write!(f, "lhist({min}, {max}, {step})"),
            k => write!(f, "{}()", k.name()),
        }
    }
}

/// What a map's values are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Plain values of a type; the last write wins.
    Plain(Type),
    /// An aggregation.
    Agg(AggKind),
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueKind::Plain(t) => write!(f, "{t}"),
            ValueKind::Agg(a) => write!(f, "{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(bytes: u8) -> Type {
        Type::Int(IntTy {
            signed: false,
            bytes,
            meaning: Meaning::Number,
        })
    }

    #[test]
    fn c_layouts() {
        assert_eq!(layout(&[u(4), u(4)]), (vec![0, 4], 8));
        assert_eq!(layout(&[u(4), u(8)]), (vec![0, 8], 16));
        assert_eq!(layout(&[u(8), u(4)]), (vec![0, 8], 16));
        assert_eq!(layout(&[Type::Str(16), u(4)]), (vec![0, 16], 20));
        assert_eq!(layout(&[Type::Bool]), (vec![0], 1));
    }

    #[test]
    fn unification() {
        assert_eq!(u(4).unify(&u(8)), Some(u(8)));
        assert_eq!(Type::Str(3).unify(&Type::Str(16)), Some(Type::Str(16)));
        assert_eq!(u(4).unify(&Type::Str(16)), None);
        assert_eq!(
            Type::Stack(StackKind::User).unify(&Type::Stack(StackKind::Kernel)),
            None
        );
        assert!(u(4).fits(&u(8)));
        assert!(Type::Str(3).fits(&Type::Str(16)));
        assert!(!Type::Str(17).fits(&Type::Str(16)));
    }
}
