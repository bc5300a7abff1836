//! The scalar domain: ranges plus known bits.
//!
//! A [`Scalar`] is the conjunction of six facts about a 64-bit value: its
//! unsigned and signed 64-bit ranges, the unsigned and signed ranges of its
//! low 32 bits, and a [`Tnum`]. Each fact alone is cheap and imprecise;
//! [`Scalar::sync`] lets them tighten each other (as Linux's
//! `reg_bounds_sync` does), which is what makes `x & 7` or `x << 3` bound an
//! offset. A scalar whose facts contradict each other describes no value at
//! all: `sync` reports that, and the branch that produced it is infeasible.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::tnum::Tnum;

/// An abstract 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scalar {
    /// Known bits.
    pub tnum: Tnum,
    /// Unsigned 64-bit bounds.
    pub umin: u64,
    /// Unsigned 64-bit bounds.
    pub umax: u64,
    /// Signed 64-bit bounds.
    pub smin: i64,
    /// Signed 64-bit bounds.
    pub smax: i64,
    /// Unsigned bounds of the low 32 bits.
    pub u32min: u32,
    /// Unsigned bounds of the low 32 bits.
    pub u32max: u32,
    /// Signed bounds of the low 32 bits.
    pub s32min: i32,
    /// Signed bounds of the low 32 bits.
    pub s32max: i32,
}

const LOW32: u64 = 0xffff_ffff;

impl Scalar {
    /// Any 64-bit value.
    pub const UNKNOWN: Scalar = Scalar {
        tnum: Tnum::UNKNOWN,
        umin: 0,
        umax: u64::MAX,
        smin: i64::MIN,
        smax: i64::MAX,
        u32min: 0,
        u32max: u32::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            tnum: Tnum::constant(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
            u32min: v as u32,
            u32max: v as u32,
            s32min: v as i32,
            s32max: v as i32,
        }
    }

    /// Every value in `[lo, hi]` (unsigned).
    pub fn urange(lo: u64, hi: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umin = lo;
        s.umax = hi;
        s.synced().unwrap_or(Scalar::UNKNOWN)
    }

    /// Every value in `[lo, hi]` (signed).
    pub fn srange(lo: i64, hi: i64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.smin = lo;
        s.smax = hi;
        s.synced().unwrap_or(Scalar::UNKNOWN)
    }

    /// Every value the tnum allows.
    pub fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.tnum = t;
        s.synced().unwrap_or(Scalar::UNKNOWN)
    }

    /// Any value of `bytes` bytes, zero-extended (`bytes` is 1, 2, 4 or 8).
    pub fn unknown_bytes(bytes: u32) -> Scalar {
        if bytes >= 8 {
            Scalar::UNKNOWN
        } else {
            Scalar::urange(0, (1u64 << (bytes * 8)) - 1)
        }
    }

    /// The value, if exactly one is possible.
    pub const fn as_const(&self) -> Option<u64> {
        if self.tnum.is_const() {
            Some(self.tnum.value)
        } else if self.umin == self.umax {
            Some(self.umin)
        } else {
            None
        }
    }

    /// True if `v` satisfies every fact.
    pub fn contains(&self, v: u64) -> bool {
        self.tnum.contains(v)
            && (self.umin..=self.umax).contains(&v)
            && (self.smin..=self.smax).contains(&(v as i64))
            && (self.u32min..=self.u32max).contains(&(v as u32))
            && (self.s32min..=self.s32max).contains(&(v as i32))
    }

    /// True if every value of `self` is a value of `other` (component-wise,
    /// so sound but not complete).
    pub fn is_subset_of(&self, other: &Scalar) -> bool {
        self.tnum.is_subset_of(other.tnum)
            && other.umin <= self.umin
            && self.umax <= other.umax
            && other.smin <= self.smin
            && self.smax <= other.smax
            && other.u32min <= self.u32min
            && self.u32max <= other.u32max
            && other.s32min <= self.s32min
            && self.s32max <= other.s32max
    }

    /// The smallest scalar containing both.
    pub fn join(&self, b: &Scalar) -> Scalar {
        Scalar {
            tnum: self.tnum.union(b.tnum),
            umin: self.umin.min(b.umin),
            umax: self.umax.max(b.umax),
            smin: self.smin.min(b.smin),
            smax: self.smax.max(b.smax),
            u32min: self.u32min.min(b.u32min),
            u32max: self.u32max.max(b.u32max),
            s32min: self.s32min.min(b.s32min),
            s32max: self.s32max.max(b.s32max),
        }
    }

    /// `sync` on a copy.
    pub fn synced(mut self) -> Option<Scalar> {
        if self.sync() { Some(self) } else { None }
    }

    /// Let the facts tighten each other. Returns false if they contradict
    /// (no value satisfies all of them); the scalar is then meaningless.
    pub fn sync(&mut self) -> bool {
        for _ in 0..3 {
            let before = *self;
            if !self.sync_once() {
                return false;
            }
            if *self == before {
                break;
            }
        }
        self.consistent()
    }

    fn consistent(&self) -> bool {
        self.umin <= self.umax
            && self.smin <= self.smax
            && self.u32min <= self.u32max
            && self.s32min <= self.s32max
            && self.tnum.value & self.tnum.mask == 0
    }

    fn sync_once(&mut self) -> bool {
        // tnum -> ranges
        let t = self.tnum;
        self.umin = self.umin.max(t.umin());
        self.umax = self.umax.min(t.umax());
        self.smin = self.smin.max(t.smin());
        self.smax = self.smax.min(t.smax());
        let t32 = t.truncate(4);
        self.u32min = self.u32min.max(t32.value as u32);
        self.u32max = self.u32max.min((t32.value | t32.mask) as u32);
        self.s32min = self
            .s32min
            .max((t32.value | (t32.mask & 0x8000_0000)) as u32 as i32);
        self.s32max = self
            .s32max
            .min((t32.value | (t32.mask & 0x7fff_ffff)) as u32 as i32);
        if !self.consistent() {
            return false;
        }
        // signed <-> unsigned, 64 bits
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        }
        // signed <-> unsigned, 32 bits
        if (self.u32min as i32) <= (self.u32max as i32) {
            self.s32min = self.s32min.max(self.u32min as i32);
            self.s32max = self.s32max.min(self.u32max as i32);
        }
        if (self.s32min as u32) <= (self.s32max as u32) {
            self.u32min = self.u32min.max(self.s32min as u32);
            self.u32max = self.u32max.min(self.s32max as u32);
        }
        if !self.consistent() {
            return false;
        }
        // 64 -> 32: within one upper half the low halves are monotone.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32min = self.u32min.max(self.umin as u32);
            self.u32max = self.u32max.min(self.umax as u32);
            if (self.umin as u32 as i32) <= (self.umax as u32 as i32) {
                self.s32min = self.s32min.max(self.umin as u32 as i32);
                self.s32max = self.s32max.min(self.umax as u32 as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            self.u32min = self.u32min.max(self.smin as u32);
            self.u32max = self.u32max.min(self.smax as u32);
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32min = self.s32min.max(self.smin as i32);
                self.s32max = self.s32max.min(self.smax as i32);
            }
        }
        if !self.consistent() {
            return false;
        }
        // 32 -> 64: with a known upper half, the low range bounds the value.
        if self.umin >> 32 == self.umax >> 32 {
            let hi = self.umin & !LOW32;
            self.umin = self.umin.max(hi | u64::from(self.u32min));
            self.umax = self.umax.min(hi | u64::from(self.u32max));
        }
        if self.smin >> 32 == self.smax >> 32 {
            let hi = (self.smin as u64) & !LOW32;
            self.smin = self.smin.max((hi | u64::from(self.u32min)) as i64);
            self.smax = self.smax.min((hi | u64::from(self.u32max)) as i64);
        }
        if !self.consistent() {
            return false;
        }
        // ranges -> tnum
        let Some(t) = self.tnum.intersect(Tnum::range(self.umin, self.umax)) else {
            return false;
        };
        let low = Tnum::range(u64::from(self.u32min), u64::from(self.u32max));
        let low = Tnum {
            value: low.value,
            mask: low.mask | !LOW32,
        };
        let Some(t) = t.intersect(low) else {
            return false;
        };
        let t = if (self.smin as u64) <= (self.smax as u64) {
            match t.intersect(Tnum::range(self.smin as u64, self.smax as u64)) {
                Some(t) => t,
                None => return false,
            }
        } else {
            t
        };
        self.tnum = t;
        true
    }

    /// The low `bytes` bytes, zero-extended (what a store of that size keeps).
    pub fn truncate(&self, bytes: u32) -> Scalar {
        if bytes >= 8 {
            return *self;
        }
        let bits = bytes * 8;
        let m = (1u64 << bits) - 1;
        let mut out = Scalar::UNKNOWN;
        out.tnum = self.tnum.truncate(bytes);
        if self.umin >> bits == self.umax >> bits {
            out.umin = self.umin & m;
            out.umax = self.umax & m;
        } else {
            out.umin = 0;
            out.umax = m;
        }
        if self.smin >> bits == self.smax >> bits {
            let (lo, hi) = ((self.smin as u64) & m, (self.smax as u64) & m);
            out.umin = out.umin.max(lo);
            out.umax = out.umax.min(hi);
        }
        if bytes == 4 {
            out.umin = out.umin.max(u64::from(self.u32min));
            out.umax = out.umax.min(u64::from(self.u32max));
        } else {
            out.umax = out.umax.min(m);
        }
        // Falls back to the plain width bound if the facts were inconsistent.
        out.synced().unwrap_or(Scalar::unknown_bytes(bytes))
    }

    /// Sign-extend the low `bits` bits (8, 16 or 32) to 64.
    pub fn sign_extend(&self, bits: u32) -> Scalar {
        let mut out = Scalar::UNKNOWN;
        out.tnum = self.tnum.sign_extend(bits);
        let half = 1i64 << (bits - 1);
        let narrow = self.truncate(bits / 8);
        // The narrow value's signed range, from its unsigned one when it does
        // not cross the sign bit.
        let (lo, hi) = (narrow.umin as i64, narrow.umax as i64);
        if hi < half {
            out.smin = lo;
            out.smax = hi;
        } else if lo >= half {
            out.smin = lo - 2 * half;
            out.smax = hi - 2 * half;
        } else {
            out.smin = -half;
            out.smax = half - 1;
        }
        if bits == 32 {
            out.smin = out.smin.max(i64::from(self.s32min));
            out.smax = out.smax.min(i64::from(self.s32max));
        }
        out.synced().unwrap_or(Scalar::srange(-half, half - 1))
    }

    /// The scalar's low 32 bits, zero-extended.
    pub fn zext32(&self) -> Scalar {
        self.truncate(4)
    }

    /// The scalar's low 32 bits, sign-extended.
    pub fn sext32(&self) -> Scalar {
        self.sign_extend(32)
    }
}

impl fmt::Display for Scalar {
    /// `5`, `scalar`, or `scalar(umax=7,var_off=(0x0; 0x7))`: only the facts
    /// that say something beyond the others are printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.as_const() {
            return if (c as i64) < 0 && (c as i64) > -65536 {
                write!(f, "{}", c as i64)
            } else if c < 65536 {
                write!(f, "{c}")
            } else {
                write!(f, "{c:#x}")
            };
        }
        let mut parts: alloc::vec::Vec<alloc::string::String> = alloc::vec::Vec::new();
        use alloc::format;
        if self.smin != i64::MIN && self.smin as u64 != self.umin {
            parts.push(format!("smin={}", self.smin));
        }
        if self.smax != i64::MAX && self.smax as u64 != self.umax {
            parts.push(format!("smax={}", self.smax));
        }
        if self.umin != 0 {
            parts.push(format!("umin={}", self.umin));
        }
        if self.umax != u64::MAX {
            parts.push(format!("umax={}", self.umax));
        }
        let t_range = Tnum::range(self.umin, self.umax);
        if self.tnum != Tnum::UNKNOWN && self.tnum != t_range {
            parts.push(format!(
                "var_off=({:#x}; {:#x})",
                self.tnum.value, self.tnum.mask
            ));
        }
        if parts.is_empty() {
            f.write_str("scalar")
        } else {
            write!(f, "scalar({})", parts.join(","))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An abstract scalar and one concrete member, built from a random
    /// interval and random known bits around a chosen member.
    pub fn member() -> impl Strategy<Value = (Scalar, u64)> {
        (
            any::<u64>(),
            prop_oneof![Just(0u64), 0u64..16, 0u64..4096, any::<u64>()],
            prop_oneof![Just(0u64), 0u64..16, 0u64..4096, any::<u64>()],
            any::<u64>(),
            0u8..4,
        )
            .prop_map(|(x, below, above, mask, kind)| {
                let x = match kind {
                    0 => x % 256,
                    1 => (x as i8) as i64 as u64,
                    _ => x,
                };
                let s = match kind {
                    0 | 1 => Scalar::urange(x.saturating_sub(below), x.saturating_add(above)),
                    2 => Scalar::srange(
                        (x as i64).saturating_sub((below >> 1) as i64),
                        (x as i64).saturating_add((above >> 1) as i64),
                    ),
                    _ => Scalar::from_tnum(Tnum {
                        value: x & !mask,
                        mask,
                    }),
                };
                (s, x)
            })
    }

    proptest! {
        #[test]
        fn members_are_members((s, x) in member()) {
            prop_assert!(s.contains(x), "{s:?} {x:#x}");
        }

        #[test]
        fn casts_are_sound((s, x) in member()) {
            prop_assert!(s.truncate(1).contains(x & 0xff));
            prop_assert!(s.truncate(2).contains(x & 0xffff));
            prop_assert!(s.truncate(4).contains(x & 0xffff_ffff));
            prop_assert!(s.sign_extend(8).contains(x as i8 as i64 as u64));
            prop_assert!(s.sign_extend(16).contains(x as i16 as i64 as u64));
            prop_assert!(s.sign_extend(32).contains(x as i32 as i64 as u64));
        }

        #[test]
        fn join_contains_both((a, x) in member(), (b, y) in member()) {
            let j = a.join(&b);
            prop_assert!(j.contains(x) && j.contains(y));
            prop_assert!(a.is_subset_of(&j) && b.is_subset_of(&j));
        }

        #[test]
        fn sync_keeps_members((s, x) in member(), lo in any::<u64>(), hi in any::<u64>()) {
            let mut t = s;
            t.umin = t.umin.max(lo.min(x));
            t.umax = t.umax.min(hi.max(x));
            let synced = t.synced();
            prop_assert!(synced.is_some_and(|t| t.contains(x)), "{t:?} lost {x:#x}");
        }
    }

    #[test]
    fn masks_bound() {
        let s = Scalar::from_tnum(Tnum { value: 0, mask: 7 });
        assert_eq!((s.umin, s.umax, s.smin, s.smax), (0, 7, 0, 7));
        assert_eq!((s.u32min, s.u32max), (0, 7));
        let c = Scalar::constant(-8i64 as u64);
        assert_eq!(c.to_string(), "-8");
        assert_eq!(Scalar::urange(0, 7).to_string(), "scalar(umax=7)");
        assert_eq!(Scalar::UNKNOWN.to_string(), "scalar");
    }

    #[test]
    fn contradictions_are_detected() {
        let mut s = Scalar::constant(4);
        s.tnum = Tnum { value: 0, mask: 3 };
        assert!(!s.sync());
        let mut s = Scalar::urange(10, 20);
        s.smax = 5;
        assert!(!s.sync());
    }
}
