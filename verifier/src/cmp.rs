//! Branch refinement: what a conditional jump teaches about its operands.
//!
//! [`assume`] narrows both operands to the values for which the comparison
//! holds, or says no values do (the edge is infeasible). The verifier calls
//! it once per edge, with the condition or its negation; an infeasible edge
//! is how a branch is proven always or never taken. 32-bit comparisons are
//! refined on a 64-bit view of the low halves (zero-extended for unsigned
//! conditions, sign-extended for signed ones) and the result is written back
//! into the 32-bit facts and the low bits of the tnum.

use capscope_bytecode::insn::{JmpCond, Width};

use crate::range::Scalar;
use crate::tnum::Tnum;

/// A branch condition, including the negation of `jset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pred {
    /// One of the jump conditions.
    Cond(JmpCond),
    /// `a & b == 0`: the fall-through edge of `jset`.
    NotSet,
}

impl Pred {
    /// The condition on the fall-through edge.
    pub fn negate(self) -> Pred {
        use JmpCond::*;
        Pred::Cond(match self {
            Pred::NotSet => Set,
            Pred::Cond(c) => match c {
                Eq => Ne,
                Ne => Eq,
                Gt => Le,
                Ge => Lt,
                Lt => Ge,
                Le => Gt,
                Sgt => Sle,
                Sge => Slt,
                Slt => Sge,
                Sle => Sgt,
                Set => return Pred::NotSet,
            },
        })
    }

    /// The same condition with the operands swapped (`a < b` is `b > a`).
    pub fn swap(self) -> Pred {
        use JmpCond::*;
        match self {
            Pred::NotSet => Pred::NotSet,
            Pred::Cond(c) => Pred::Cond(match c {
                Gt => Lt,
                Ge => Le,
                Lt => Gt,
                Le => Ge,
                Sgt => Slt,
                Sge => Sle,
                Slt => Sgt,
                Sle => Sge,
                other => other,
            }),
        }
    }

    fn signed(self) -> bool {
        matches!(
            self,
            Pred::Cond(JmpCond::Sgt | JmpCond::Sge | JmpCond::Slt | JmpCond::Sle)
        )
    }
}

/// Narrow `a` and `b` to the values for which `a pred b` holds at `width`,
/// or `None` if no values do.
pub fn assume(width: Width, pred: Pred, a: &Scalar, b: &Scalar) -> Option<(Scalar, Scalar)> {
    match width {
        Width::W64 => assume64(pred, a, b),
        Width::W32 => {
            let signed = pred.signed();
            let view = |s: &Scalar| if signed { s.sext32() } else { s.zext32() };
            let (va, vb) = assume64(pred, &view(a), &view(b))?;
            Some((write_back(a, &va, signed)?, write_back(b, &vb, signed)?))
        }
    }
}

/// Copy what a refined 32-bit view says about the low half into `orig`.
fn write_back(orig: &Scalar, view: &Scalar, signed: bool) -> Option<Scalar> {
    let mut s = *orig;
    s.u32min = s.u32min.max(view.u32min);
    s.u32max = s.u32max.min(view.u32max);
    s.s32min = s.s32min.max(view.s32min);
    s.s32max = s.s32max.min(view.s32max);
    if signed {
        // The view is the sign-extended low half: its 64-bit signed range
        // is the low half's signed range.
        s.s32min = s.s32min.max(view.smin.max(i64::from(i32::MIN)) as i32);
        s.s32max = s.s32max.min(view.smax.min(i64::from(i32::MAX)) as i32);
    } else {
        s.u32min = s.u32min.max(view.umin.min(u64::from(u32::MAX)) as u32);
        s.u32max = s.u32max.min(view.umax.min(u64::from(u32::MAX)) as u32);
    }
    let low = Tnum {
        value: view.tnum.value & 0xffff_ffff,
        mask: view.tnum.mask | 0xffff_ffff_0000_0000,
    };
    s.tnum = s.tnum.intersect(low)?;
    s.synced()
}

fn assume64(pred: Pred, a: &Scalar, b: &Scalar) -> Option<(Scalar, Scalar)> {
    use JmpCond::*;
    let (mut a, mut b) = (*a, *b);
    match pred {
        Pred::Cond(Eq) => {
            let t = a.tnum.intersect(b.tnum)?;
            let mut m = Scalar {
                tnum: t,
                umin: a.umin.max(b.umin),
                umax: a.umax.min(b.umax),
                smin: a.smin.max(b.smin),
                smax: a.smax.min(b.smax),
                u32min: a.u32min.max(b.u32min),
                u32max: a.u32max.min(b.u32max),
                s32min: a.s32min.max(b.s32min),
                s32max: a.s32max.min(b.s32max),
            };
            if !m.sync() {
                return None;
            }
            return Some((m, m));
        }
        Pred::Cond(Ne) => {
            if let Some(c) = b.as_const() {
                a = exclude(&a, c)?;
            }
            if let Some(c) = a.as_const() {
                b = exclude(&b, c)?;
            }
        }
        Pred::Cond(Gt) => {
            a.umin = a.umin.max(b.umin.checked_add(1)?);
            b.umax = b.umax.min(a.umax.checked_sub(1)?);
        }
        Pred::Cond(Ge) => {
            a.umin = a.umin.max(b.umin);
            b.umax = b.umax.min(a.umax);
        }
        Pred::Cond(Sgt) => {
            a.smin = a.smin.max(b.smin.checked_add(1)?);
            b.smax = b.smax.min(a.smax.checked_sub(1)?);
        }
        Pred::Cond(Sge) => {
            a.smin = a.smin.max(b.smin);
            b.smax = b.smax.min(a.smax);
        }
        Pred::Cond(Lt | Le | Slt | Sle) => {
            let (nb, na) = assume64(pred.swap(), &b, &a)?;
            return Some((na, nb));
        }
        Pred::Cond(Set) => {
            // Some bit may be set in both.
            if a.tnum.umax() & b.tnum.umax() == 0 {
                return None;
            }
            if let Some(c) = b.as_const()
                && c.is_power_of_two()
            {
                a.tnum = a.tnum.intersect(Tnum { value: c, mask: !c })?;
            }
            if let Some(c) = a.as_const()
                && c.is_power_of_two()
            {
                b.tnum = b.tnum.intersect(Tnum { value: c, mask: !c })?;
            }
        }
        Pred::NotSet => {
            if a.tnum.value & b.tnum.value != 0 {
                return None;
            }
            if let Some(c) = b.as_const() {
                a.tnum = a.tnum.intersect(Tnum { value: 0, mask: !c })?;
            }
            if let Some(c) = a.as_const() {
                b.tnum = b.tnum.intersect(Tnum { value: 0, mask: !c })?;
            }
        }
    }
    if !a.sync() || !b.sync() {
        return None;
    }
    Some((a, b))
}

/// `s` without the value `c` (only an end of a range can be cut).
fn exclude(s: &Scalar, c: u64) -> Option<Scalar> {
    let mut s = *s;
    if s.as_const() == Some(c) {
        return None;
    }
    if s.umin == c {
        s.umin = s.umin.checked_add(1)?;
    }
    if s.umax == c {
        s.umax = s.umax.checked_sub(1)?;
    }
    if s.smin == c as i64 {
        s.smin = s.smin.checked_add(1)?;
    }
    if s.smax == c as i64 {
        s.smax = s.smax.checked_sub(1)?;
    }
    s.synced()
}

/// The concrete truth of a comparison, for tests and constant folding.
pub fn holds(width: Width, pred: Pred, x: u64, y: u64) -> bool {
    let (x, y) = match width {
        Width::W64 => (x, y),
        Width::W32 => {
            if pred.signed() {
                (x as i32 as i64 as u64, y as i32 as i64 as u64)
            } else {
                (x & 0xffff_ffff, y & 0xffff_ffff)
            }
        }
    };
    use JmpCond::*;
    match pred {
        Pred::NotSet => x & y == 0,
        Pred::Cond(c) => match c {
            Eq => x == y,
            Ne => x != y,
            Gt => x > y,
            Ge => x >= y,
            Lt => x < y,
            Le => x <= y,
            Set => x & y != 0,
            Sgt => (x as i64) > (y as i64),
            Sge => (x as i64) >= (y as i64),
            Slt => (x as i64) < (y as i64),
            Sle => (x as i64) <= (y as i64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::tests::member;
    use proptest::prelude::*;

    const CONDS: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Set,
        JmpCond::Ne,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Slt,
        JmpCond::Sle,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// If concrete values satisfy the condition, refinement keeps them;
        /// if they do not, the negated refinement keeps them.
        #[test]
        fn refinement_keeps_every_satisfying_pair(
            (a, x) in member(), (b, y) in member(), c in 0usize..11, w in any::<bool>(), same in any::<bool>()
        ) {
            let width = if w { Width::W64 } else { Width::W32 };
            let (b, y) = if same { (a, x) } else { (b, y) };
            let p = Pred::Cond(CONDS[c]);
            let p = if holds(width, p, x, y) { p } else { p.negate() };
            prop_assert!(holds(width, p, x, y));
            let r = assume(width, p, &a, &b);
            prop_assert!(r.is_some(), "{p:?} {width:?} infeasible for {x:#x} {y:#x}: {a:?} {b:?}");
            let (ra, rb) = r.unwrap();
            prop_assert!(ra.contains(x) && rb.contains(y), "{p:?} {width:?}: {a:?} -> {ra:?} / {b:?} -> {rb:?} lost {x:#x} {y:#x}");
        }
    }

    #[test]
    fn decides_constant_comparisons() {
        let five = Scalar::constant(5);
        let three = Scalar::constant(3);
        assert!(assume(Width::W64, Pred::Cond(JmpCond::Gt), &five, &three).is_some());
        assert!(assume(Width::W64, Pred::Cond(JmpCond::Le), &five, &three).is_none());
        let small = Scalar::urange(0, 9);
        let (r, _) = assume(
            Width::W64,
            Pred::Cond(JmpCond::Lt),
            &Scalar::UNKNOWN,
            &Scalar::constant(10),
        )
        .unwrap();
        assert_eq!((r.umin, r.umax), (0, 9));
        assert!(
            assume(
                Width::W64,
                Pred::Cond(JmpCond::Gt),
                &small,
                &Scalar::constant(9)
            )
            .is_none()
        );
        let (r, _) = assume(
            Width::W32,
            Pred::Cond(JmpCond::Lt),
            &Scalar::UNKNOWN,
            &Scalar::constant(10),
        )
        .unwrap();
        assert_eq!((r.u32min, r.u32max), (0, 9));
        assert!(r.umax > u64::from(u32::MAX), "the upper half stays unknown");
        let (r, _) = assume(
            Width::W64,
            Pred::NotSet,
            &Scalar::UNKNOWN,
            &Scalar::constant(!7),
        )
        .unwrap();
        assert_eq!((r.umin, r.umax), (0, 7));
    }
}
