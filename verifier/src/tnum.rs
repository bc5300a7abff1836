//! Tristate numbers: which bits of a 64-bit value are known.
//!
//! A [`Tnum`] `{value, mask}` stands for every `x` with `x & !mask == value`:
//! bits set in `mask` are unknown, the others equal `value`. This is the
//! Linux verifier's `tnum`; the arithmetic follows "Sound, Precise, and Fast
//! Abstract Interpretation with Tristate Numbers" (CGO'22), and every
//! operation here is proptested for soundness against concrete values.

use serde::{Deserialize, Serialize};

/// A set of 64-bit values described by known and unknown bits.
///
/// Invariant: `value & mask == 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tnum {
    /// The known bits (zero where unknown).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

// The arithmetic is named like the operators it abstracts; implementing
// the operator traits would suggest exactness a tnum does not have.
#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The tightest tnum containing every value of `[min, max]`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// True if all bits are known.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// True if `v` is a member.
    pub const fn contains(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// True if every member of `self` is a member of `other`.
    pub const fn is_subset_of(self, other: Tnum) -> bool {
        self.mask & !other.mask == 0 && self.value & !other.mask == other.value
    }

    /// Smallest member, unsigned.
    pub const fn umin(self) -> u64 {
        self.value
    }

    /// Largest member, unsigned.
    pub const fn umax(self) -> u64 {
        self.value | self.mask
    }

    /// Smallest member, signed: the sign bit set if unknown, other unknowns clear.
    pub const fn smin(self) -> i64 {
        (self.value | (self.mask & (1 << 63))) as i64
    }

    /// Largest member, signed: the sign bit clear if unknown, other unknowns set.
    pub const fn smax(self) -> i64 {
        (self.value | (self.mask & !(1 << 63))) as i64
    }

    /// `a + b`.
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// `a - b`.
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// `-a`.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// `a & b`.
    pub const fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// `a | b`.
    pub const fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// `a ^ b`.
    pub const fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// `a * b` (wrapping), by shift-and-add over the bits of `a`.
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rsh(1);
            b = b.lsh(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// `a << s` for `s < 64`.
    pub const fn lsh(self, s: u32) -> Tnum {
        Tnum {
            value: self.value << s,
            mask: self.mask << s,
        }
    }

    /// `a >> s` (logical) for `s < 64`.
    pub const fn rsh(self, s: u32) -> Tnum {
        Tnum {
            value: self.value >> s,
            mask: self.mask >> s,
        }
    }

    /// `a >> s` (arithmetic) for `s < 64`.
    pub const fn arsh(self, s: u32) -> Tnum {
        Tnum {
            value: ((self.value as i64) >> s) as u64,
            mask: ((self.mask as i64) >> s) as u64,
        }
    }

    /// The members of both, or `None` if there are none.
    pub const fn intersect(self, b: Tnum) -> Option<Tnum> {
        let known_both = !self.mask & !b.mask;
        if (self.value ^ b.value) & known_both != 0 {
            return None;
        }
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Some(Tnum {
            value: v & !mu,
            mask: mu,
        })
    }

    /// The smallest tnum containing both.
    pub const fn union(self, b: Tnum) -> Tnum {
        let mu = self.mask | b.mask | (self.value ^ b.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }

    /// Keep the low `bytes` bytes (1 to 8), zeroing the rest.
    pub const fn truncate(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// Sign-extend from the low `bits` bits (8, 16 or 32).
    pub const fn sign_extend(self, bits: u32) -> Tnum {
        let sh = 64 - bits;
        Tnum {
            value: self.value << sh,
            mask: self.mask << sh,
        }
        .arsh(sh)
    }

    /// Byte-swap all eight bytes (exact: each bit moves to a known place).
    pub const fn swap_bytes(self) -> Tnum {
        Tnum {
            value: self.value.swap_bytes(),
            mask: self.mask.swap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tnum and one of its members.
    fn member() -> impl Strategy<Value = (Tnum, u64)> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(v, m, pick)| {
            let m = m & m.rotate_left(7); // fewer unknown bits than uniform
            let t = Tnum {
                value: v & !m,
                mask: m,
            };
            (t, t.value | (pick & m))
        })
    }

    proptest! {
        #[test]
        fn binary_ops_are_sound((a, x) in member(), (b, y) in member(), s in 0u32..64) {
            prop_assert!(a.add(b).contains(x.wrapping_add(y)));
            prop_assert!(a.sub(b).contains(x.wrapping_sub(y)));
            prop_assert!(a.mul(b).contains(x.wrapping_mul(y)));
            prop_assert!(a.and(b).contains(x & y));
            prop_assert!(a.or(b).contains(x | y));
            prop_assert!(a.xor(b).contains(x ^ y));
            prop_assert!(a.union(b).contains(x) && a.union(b).contains(y));
            prop_assert!(a.neg().contains(x.wrapping_neg()));
            prop_assert!(a.lsh(s).contains(x << s));
            prop_assert!(a.rsh(s).contains(x >> s));
            prop_assert!(a.arsh(s).contains(((x as i64) >> s) as u64));
            prop_assert!(a.swap_bytes().contains(x.swap_bytes()));
            for bytes in [1, 2, 4, 8] {
                let m = if bytes == 8 { u64::MAX } else { (1u64 << (bytes * 8)) - 1 };
                prop_assert!(a.truncate(bytes).contains(x & m));
            }
            prop_assert!(a.sign_extend(32).contains(x as i32 as i64 as u64));
            prop_assert!(a.sign_extend(8).contains(x as i8 as i64 as u64));
            prop_assert!(a.smin() <= x as i64 && x as i64 <= a.smax());
            prop_assert!(a.umin() <= x && x <= a.umax());
            if a.contains(y) {
                prop_assert!(a.intersect(b).is_some_and(|t| t.contains(y)) || !b.contains(y));
            }
        }

        #[test]
        fn range_contains_its_interval(lo in any::<u64>(), len in 0u64..1000, off in 0u64..1000) {
            let hi = lo.saturating_add(len);
            let t = Tnum::range(lo, hi);
            let v = lo.saturating_add(off.min(len));
            prop_assert!(t.contains(v));
        }
    }

    #[test]
    fn constants_and_subsets() {
        let t = Tnum::range(0, 7);
        assert_eq!(t, Tnum { value: 0, mask: 7 });
        assert!(Tnum::constant(5).is_subset_of(t));
        assert!(!Tnum::constant(8).is_subset_of(t));
        assert_eq!(
            Tnum::constant(3).intersect(Tnum::constant(4)),
            None,
            "disjoint constants"
        );
        assert_eq!(Tnum::constant(6).mul(Tnum::constant(7)), Tnum::constant(42));
    }
}
