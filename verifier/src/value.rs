//! The abstract value of one register (or one spilled stack slot).
//!
//! A value is a type plus, for numbers and offsets, a [`Scalar`]. Pointer
//! types carry what their accesses are checked against: the context has a
//! constant offset (rule 4), stack and map-value pointers an offset range
//! (rules 3, 5). A `map_lookup_elem` result carries an *id*: every copy of
//! it has the same id, so a null check on one copy refines them all.
//! [`Value::PtrBits`] is the top of the initialized values: it may hold a
//! pointer or bits of one (a partial fill of a spilled pointer, or a
//! pointer on one path and a number on another); it may be moved and
//! spilled, never used or exported (rule 7).

use core::fmt;

use capscope_bytecode::insn::{InsnIdx, MapIdx};
use serde::{Deserialize, Serialize};

use crate::range::Scalar;

/// What a register holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// Not written on some path; `Some(call)` if a helper call clobbered it.
    Uninit(Option<InsnIdx>),
    /// A number.
    Scalar(Scalar),
    /// May hold a pointer or bits of one; only moves and spills are allowed.
    PtrBits,
    /// The context pointer plus a constant offset.
    Ctx {
        /// Offset from the start of the context.
        off: i64,
    },
    /// A pointer into the stack.
    Stack {
        /// Offset from r10 (negative inside the stack).
        off: Scalar,
    },
    /// A map (from `lddw rX, map[N]`): opaque, only passed to helpers.
    MapPtr {
        /// Which map.
        map: MapIdx,
    },
    /// A pointer into a map value, proven non-null.
    MapValue {
        /// Which map.
        map: MapIdx,
        /// Copies of one lookup result share an id (0: none).
        id: u32,
        /// The map's value size.
        size: u32,
        /// Offset from the start of the value.
        off: Scalar,
    },
    /// A `map_lookup_elem` result before its null check.
    MapValueOrNull {
        /// Which map.
        map: MapIdx,
        /// Copies share this id; a null check refines all of them.
        id: u32,
        /// The map's value size.
        size: u32,
    },
}

/// How an id-carrying value takes part in a join: which lookup it came from,
/// or the number 0 (which joins with a lookup result into "maybe null").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdClass {
    Id(u32),
    Zero,
}

/// New ids for joined values: one per pair of classes seen in the two
/// states, so values that were equal in both states stay equal.
#[derive(Default)]
pub(crate) struct IdPairs {
    pairs: alloc::vec::Vec<(IdClass, IdClass)>,
}

impl IdPairs {
    fn id(&mut self, a: IdClass, b: IdClass) -> u32 {
        let i = match self.pairs.iter().position(|p| *p == (a, b)) {
            Some(i) => i,
            None => {
                self.pairs.push((a, b));
                self.pairs.len() - 1
            }
        };
        i as u32 + 1
    }
}

impl Value {
    /// An unknown number.
    pub const UNKNOWN: Value = Value::Scalar(Scalar::UNKNOWN);

    /// The frame pointer.
    pub fn fp() -> Value {
        Value::Stack {
            off: Scalar::constant(0),
        }
    }

    /// True if readable (written on every path).
    pub fn is_init(&self) -> bool {
        !matches!(self, Value::Uninit(_))
    }

    /// True for the pointer types (not numbers, not pointer bits).
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            Value::Ctx { .. }
                | Value::Stack { .. }
                | Value::MapPtr { .. }
                | Value::MapValue { .. }
                | Value::MapValueOrNull { .. }
        )
    }

    /// The number, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The lookup id, for values that carry one.
    pub fn id(&self) -> Option<u32> {
        match self {
            Value::MapValue { id, .. } | Value::MapValueOrNull { id, .. } if *id != 0 => Some(*id),
            _ => None,
        }
    }

    pub(crate) fn set_id(&mut self, new: u32) {
        if let Value::MapValue { id, .. } | Value::MapValueOrNull { id, .. } = self {
            *id = new;
        }
    }

    fn class(&self) -> Option<IdClass> {
        match self {
            Value::MapValue { id, .. } | Value::MapValueOrNull { id, .. } => Some(IdClass::Id(*id)),
            Value::Scalar(s) if s.as_const() == Some(0) => Some(IdClass::Zero),
            _ => None,
        }
    }

    /// A value that holds every value of `self` and of `b`.
    pub(crate) fn join(&self, b: &Value, ids: &mut IdPairs) -> Value {
        use Value::*;
        match (self, b) {
            (Uninit(c), _) | (_, Uninit(c)) => Uninit(*c),
            (Scalar(x), Scalar(y)) => Scalar(x.join(y)),
            (Ctx { off: x }, Ctx { off: y }) if x == y => Ctx { off: *x },
            (Stack { off: x }, Stack { off: y }) => Stack { off: x.join(y) },
            (MapPtr { map: x }, MapPtr { map: y }) if x == y => MapPtr { map: *x },
            (
                MapValue {
                    map: m1,
                    size,
                    off: o1,
                    ..
                },
                MapValue {
                    map: m2, off: o2, ..
                },
            ) if m1 == m2 => MapValue {
                map: *m1,
                id: ids.id(
                    self.class().unwrap_or(IdClass::Zero),
                    b.class().unwrap_or(IdClass::Zero),
                ),
                size: *size,
                off: o1.join(o2),
            },
            (MapValueOrNull { map: m1, size, .. }, MapValueOrNull { map: m2, .. })
            | (MapValueOrNull { map: m1, size, .. }, MapValue { map: m2, .. })
            | (MapValue { map: m1, size, .. }, MapValueOrNull { map: m2, .. })
                if m1 == m2 && self.offset_is_zero() && b.offset_is_zero() =>
            {
                self.or_null_join(*m1, *size, b, ids)
            }
            (MapValueOrNull { map, size, .. }, Scalar(_))
            | (MapValue { map, size, .. }, Scalar(_))
                if b.class() == Some(IdClass::Zero) && self.offset_is_zero() =>
            {
                self.or_null_join(*map, *size, b, ids)
            }
            (Scalar(_), MapValueOrNull { map, size, .. })
            | (Scalar(_), MapValue { map, size, .. })
                if self.class() == Some(IdClass::Zero) && b.offset_is_zero() =>
            {
                self.or_null_join(*map, *size, b, ids)
            }
            _ => PtrBits,
        }
    }

    fn or_null_join(&self, map: MapIdx, size: u32, b: &Value, ids: &mut IdPairs) -> Value {
        let (Some(x), Some(y)) = (self.class(), b.class()) else {
            return Value::PtrBits;
        };
        Value::MapValueOrNull {
            map,
            id: ids.id(x, y),
            size,
        }
    }

    fn offset_is_zero(&self) -> bool {
        match self {
            Value::MapValue { off, .. } => off.as_const() == Some(0),
            _ => true,
        }
    }

    /// True if every concrete value of `self` is one of `b` (sound, not
    /// complete; ids must already agree, which canonical numbering gives).
    pub fn is_subset_of(&self, b: &Value) -> bool {
        use Value::*;
        match (self, b) {
            (_, Uninit(_)) => true,
            (Uninit(_), _) => false,
            (_, PtrBits) => true,
            (Scalar(x), Scalar(y)) => x.is_subset_of(y),
            (Ctx { off: x }, Ctx { off: y }) => x == y,
            (Stack { off: x }, Stack { off: y }) => x.is_subset_of(y),
            (MapPtr { map: x }, MapPtr { map: y }) => x == y,
            (
                MapValue {
                    map: m1,
                    id: i1,
                    off: o1,
                    ..
                },
                MapValue {
                    map: m2,
                    id: i2,
                    off: o2,
                    ..
                },
            ) => m1 == m2 && i1 == i2 && o1.is_subset_of(o2),
            (
                MapValueOrNull {
                    map: m1, id: i1, ..
                },
                MapValueOrNull {
                    map: m2, id: i2, ..
                },
            ) => m1 == m2 && i1 == i2,
            _ => false,
        }
    }

    /// Equal up to what is irrelevant to safety (why a register is uninit).
    pub fn same(&self, b: &Value) -> bool {
        match (self, b) {
            (Value::Uninit(_), Value::Uninit(_)) => true,
            _ => self == b,
        }
    }

    /// A small number naming the type and the map, for grouping states of
    /// the same shape before joining them.
    pub(crate) fn shape(&self) -> u64 {
        match self {
            Value::Uninit(_) => 0,
            Value::Scalar(_) => 1,
            Value::PtrBits => 2,
            Value::Ctx { off } => 3 | ((*off as u64) << 8),
            Value::Stack { .. } => 4,
            Value::MapPtr { map } => 5 | (u64::from(map.0) << 8),
            Value::MapValue { map, .. } => 6 | (u64::from(map.0) << 8),
            Value::MapValueOrNull { map, .. } => 7 | (u64::from(map.0) << 8),
        }
    }
}

fn fmt_off(f: &mut fmt::Formatter<'_>, off: &Scalar) -> fmt::Result {
    match off.as_const() {
        Some(c) => write!(f, "{}", c as i64),
        None => write!(f, "{off}"),
    }
}

impl fmt::Display for Value {
    /// Linux-like: `ctx`, `fp-8`, `map_value(off=8,size=8)`, `scalar(umax=7)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Uninit(_) => f.write_str("uninit"),
            Value::Scalar(s) => write!(f, "{s}"),
            Value::PtrBits => f.write_str("ptr_bits"),
            Value::Ctx { off: 0 } => f.write_str("ctx"),
            Value::Ctx { off } => write!(f, "ctx(off={off})"),
            Value::Stack { off } => match off.as_const() {
                Some(0) => f.write_str("fp"),
                Some(c) if (c as i64) < 0 => write!(f, "fp{}", c as i64),
                Some(c) => write!(f, "fp+{}", c as i64),
                None => write!(f, "fp(off={off})"),
            },
            Value::MapPtr { map } => write!(f, "map_ptr({map})"),
            Value::MapValue { off, size, .. } => {
                f.write_str("map_value(off=")?;
                fmt_off(f, off)?;
                write!(f, ",size={size})")
            }
            Value::MapValueOrNull { id, size, .. } => {
                write!(f, "map_value_or_null(id={id},size={size})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn mv(id: u32, off: u64) -> Value {
        Value::MapValue {
            map: MapIdx(0),
            id,
            size: 8,
            off: Scalar::constant(off),
        }
    }

    #[test]
    fn display_matches_the_documented_forms() {
        assert_eq!(Value::Ctx { off: 0 }.to_string(), "ctx");
        assert_eq!(Value::fp().to_string(), "fp");
        assert_eq!(
            Value::Stack {
                off: Scalar::constant(-8i64 as u64)
            }
            .to_string(),
            "fp-8"
        );
        assert_eq!(mv(1, 8).to_string(), "map_value(off=8,size=8)");
        assert_eq!(Value::Uninit(None).to_string(), "uninit");
    }

    #[test]
    fn null_and_lookup_join_into_maybe_null() {
        let mut ids = IdPairs::default();
        let j = Value::Scalar(Scalar::constant(0)).join(&mv(3, 0), &mut ids);
        assert!(matches!(j, Value::MapValueOrNull { id: 1, .. }));
        // a value with a nonzero offset cannot be null-checked
        let j = Value::Scalar(Scalar::constant(0)).join(&mv(3, 8), &mut ids);
        assert_eq!(j, Value::PtrBits);
        // a pointer on one path and a number on the other is unusable
        let j = Value::fp().join(&Value::UNKNOWN, &mut ids);
        assert_eq!(j, Value::PtrBits);
        assert!(
            !Value::Uninit(None)
                .join(&Value::UNKNOWN, &mut ids)
                .is_init()
        );
    }

    #[test]
    fn subsumption_order() {
        assert!(Value::Scalar(Scalar::constant(3)).is_subset_of(&Value::UNKNOWN));
        assert!(Value::fp().is_subset_of(&Value::PtrBits));
        assert!(!Value::PtrBits.is_subset_of(&Value::fp()));
        assert!(Value::PtrBits.is_subset_of(&Value::Uninit(None)));
        assert!(!Value::Uninit(None).is_subset_of(&Value::PtrBits));
    }
}
