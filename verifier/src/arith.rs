//! Transfer functions of the scalar domain: what each ALU instruction does
//! to abstract numbers.
//!
//! 64-bit operations are computed directly. A 32-bit operation is the 64-bit
//! one on the zero-extended (or, for signed operations, sign-extended) low
//! halves, truncated: RFC 9669's 32-bit results are exactly those, and one
//! set of transfer functions means one set of proofs.

use capscope_bytecode::insn::{AluOp, SwapOrder, Width};

use crate::range::Scalar;
use crate::tnum::Tnum;

/// Result of `a op b` on scalars, at the given width (`Mov` returns `b`).
pub fn alu(width: Width, op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    match width {
        Width::W64 => alu64(op, a, b),
        Width::W32 => {
            let signed = matches!(op, AluOp::SDiv | AluOp::SMod | AluOp::Arsh);
            let (x, y) = if signed {
                (a.sext32(), b.zext32())
            } else {
                (a.zext32(), b.zext32())
            };
            let y = match op {
                AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => and(&y, &Scalar::constant(31)),
                AluOp::SDiv | AluOp::SMod => b.sext32(),
                _ => y,
            };
            alu64(op, &x, &y).zext32()
        }
    }
}

fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    match op {
        AluOp::Add => add(a, b),
        AluOp::Sub => sub(a, b),
        AluOp::Mul => mul(a, b),
        AluOp::Div => udiv(a, b),
        AluOp::SDiv => sdiv(a, b),
        AluOp::Mod => umod(a, b),
        AluOp::SMod => smod(a, b),
        AluOp::Or => or(a, b),
        AluOp::And => and(a, b),
        AluOp::Xor => xor(a, b),
        AluOp::Lsh => shift(Shift::L, a, &and(b, &Scalar::constant(63))),
        AluOp::Rsh => shift(Shift::R, a, &and(b, &Scalar::constant(63))),
        AluOp::Arsh => shift(Shift::A, a, &and(b, &Scalar::constant(63))),
        AluOp::Mov => *b,
    }
}

/// `-a` at the given width.
pub fn neg(width: Width, a: &Scalar) -> Scalar {
    alu(width, AluOp::Sub, &Scalar::constant(0), a)
}

/// `movsx`: sign-extend the low `bits` of `a`; 32-bit moves then zero-extend.
pub fn movsx(width: Width, a: &Scalar, bits: u8) -> Scalar {
    let s = a.sign_extend(u32::from(bits));
    match width {
        Width::W64 => s,
        Width::W32 => s.zext32(),
    }
}

/// Byte-swap instructions.
pub fn swap(order: SwapOrder, a: &Scalar, bits: u8) -> Scalar {
    let bytes = u32::from(bits) / 8;
    match order {
        SwapOrder::ToLe => a.truncate(bytes),
        SwapOrder::ToBe | SwapOrder::Swap => {
            if let Some(c) = a.as_const() {
                let sw = c.swap_bytes() >> (64 - bits);
                return Scalar::constant(sw);
            }
            let t = a
                .tnum
                .truncate(bytes)
                .swap_bytes()
                .rsh(64 - u32::from(bits));
            Scalar::from_tnum(t)
        }
    }
}

/// Build a result from its facts, falling back to what the tnum alone says
/// if the facts contradict (which would be a bug in a transfer function;
/// falling back keeps the result sound regardless).
fn finish(mut s: Scalar) -> Scalar {
    let t = s.tnum;
    if s.sync() { s } else { Scalar::from_tnum(t) }
}

fn with_tnum(t: Tnum) -> Scalar {
    let mut s = Scalar::UNKNOWN;
    s.tnum = t;
    s
}

fn add(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = with_tnum(a.tnum.add(b.tnum));
    let (lo, lo_o) = a.umin.overflowing_add(b.umin);
    let (hi, hi_o) = a.umax.overflowing_add(b.umax);
    if lo_o == hi_o {
        r.umin = lo;
        r.umax = hi;
    }
    let (lo, lo_o) = a.smin.overflowing_add(b.smin);
    let (hi, hi_o) = a.smax.overflowing_add(b.smax);
    if !lo_o && !hi_o {
        r.smin = lo;
        r.smax = hi;
    }
    let (lo, lo_o) = a.u32min.overflowing_add(b.u32min);
    let (hi, hi_o) = a.u32max.overflowing_add(b.u32max);
    if lo_o == hi_o {
        r.u32min = lo;
        r.u32max = hi;
    }
    let (lo, lo_o) = a.s32min.overflowing_add(b.s32min);
    let (hi, hi_o) = a.s32max.overflowing_add(b.s32max);
    if !lo_o && !hi_o {
        r.s32min = lo;
        r.s32max = hi;
    }
    finish(r)
}

fn sub(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = with_tnum(a.tnum.sub(b.tnum));
    let (lo, lo_o) = a.umin.overflowing_sub(b.umax);
    let (hi, hi_o) = a.umax.overflowing_sub(b.umin);
    if lo_o == hi_o {
        r.umin = lo;
        r.umax = hi;
    }
    let (lo, lo_o) = a.smin.overflowing_sub(b.smax);
    let (hi, hi_o) = a.smax.overflowing_sub(b.smin);
    if !lo_o && !hi_o {
        r.smin = lo;
        r.smax = hi;
    }
    let (lo, lo_o) = a.u32min.overflowing_sub(b.u32max);
    let (hi, hi_o) = a.u32max.overflowing_sub(b.u32min);
    if lo_o == hi_o {
        r.u32min = lo;
        r.u32max = hi;
    }
    let (lo, lo_o) = a.s32min.overflowing_sub(b.s32max);
    let (hi, hi_o) = a.s32max.overflowing_sub(b.s32min);
    if !lo_o && !hi_o {
        r.s32min = lo;
        r.s32max = hi;
    }
    finish(r)
}

fn mul(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = with_tnum(a.tnum.mul(b.tnum));
    if let Some(hi) = a.umax.checked_mul(b.umax) {
        r.umin = a.umin * b.umin;
        r.umax = hi;
    }
    let corners = [
        i128::from(a.smin) * i128::from(b.smin),
        i128::from(a.smin) * i128::from(b.smax),
        i128::from(a.smax) * i128::from(b.smin),
        i128::from(a.smax) * i128::from(b.smax),
    ];
    let lo = corners.iter().copied().min().unwrap_or(0);
    let hi = corners.iter().copied().max().unwrap_or(0);
    if lo >= i128::from(i64::MIN) && hi <= i128::from(i64::MAX) {
        r.smin = lo as i64;
        r.smax = hi as i64;
    }
    finish(r)
}

fn udiv(a: &Scalar, b: &Scalar) -> Scalar {
    if b.as_const() == Some(0) {
        return Scalar::constant(0);
    }
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Scalar::constant(x / y);
    }
    match a.umax.checked_div(b.umin) {
        Some(hi) => Scalar::urange(a.umin / b.umax, hi),
        // x / 0 == 0 and x / y <= x
        None => Scalar::urange(0, a.umax),
    }
}

fn umod(a: &Scalar, b: &Scalar) -> Scalar {
    if b.as_const() == Some(0) {
        return *a;
    }
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Scalar::constant(x % y);
    }
    if b.umin > 0 {
        if a.umax < b.umin {
            *a
        } else {
            Scalar::urange(0, a.umax.min(b.umax - 1))
        }
    } else {
        // x % 0 == x and x % y <= x
        Scalar::urange(0, a.umax)
    }
}

/// Signed quotient range for divisors in `[dlo, dhi]`, all nonzero and of
/// one sign, or `None` if the wrapping case `MIN / -1` may occur.
fn sdiv_part(a: &Scalar, dlo: i64, dhi: i64) -> Option<(i64, i64)> {
    if a.smin == i64::MIN && dlo <= -1 && -1 <= dhi {
        return None;
    }
    let c = [a.smin / dlo, a.smin / dhi, a.smax / dlo, a.smax / dhi];
    Some((*c.iter().min()?, *c.iter().max()?))
}

fn sdiv(a: &Scalar, b: &Scalar) -> Scalar {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        let (x, y) = (x as i64, y as i64);
        return Scalar::constant(if y == 0 { 0 } else { x.wrapping_div(y) } as u64);
    }
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    let mut include = |r: Option<(i64, i64)>| match r {
        Some((l, h)) => {
            lo = lo.min(l);
            hi = hi.max(h);
            true
        }
        None => false,
    };
    if b.smax >= 1 && !include(sdiv_part(a, b.smin.max(1), b.smax)) {
        return Scalar::UNKNOWN;
    }
    if b.smin <= -1 && !include(sdiv_part(a, b.smin, b.smax.min(-1))) {
        return Scalar::UNKNOWN;
    }
    if b.smin <= 0 && 0 <= b.smax {
        include(Some((0, 0)));
    }
    if lo > hi {
        return Scalar::UNKNOWN;
    }
    Scalar::srange(lo, hi)
}

fn smod(a: &Scalar, b: &Scalar) -> Scalar {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        let (x, y) = (x as i64, y as i64);
        return Scalar::constant(if y == 0 { x } else { x.wrapping_rem(y) } as u64);
    }
    // The remainder takes the dividend's sign and is no larger than it; by
    // zero it is the dividend itself.
    let mut lo = a.smin.min(0);
    let mut hi = a.smax.max(0);
    if b.smin > 0 || b.smax < 0 {
        let m = i128::from(b.smin).abs().max(i128::from(b.smax).abs()) - 1;
        let m = m.min(i128::from(i64::MAX)) as i64;
        lo = lo.max(-m);
        hi = hi.min(m);
    }
    Scalar::srange(lo, hi)
}

fn and(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = with_tnum(a.tnum.and(b.tnum));
    r.umax = a.umax.min(b.umax);
    r.u32max = a.u32max.min(b.u32max);
    if a.smin >= 0 || b.smin >= 0 {
        r.smin = 0;
    }
    finish(r)
}

fn or(a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = with_tnum(a.tnum.or(b.tnum));
    r.umin = a.umin.max(b.umin);
    r.u32min = a.u32min.max(b.u32min);
    finish(r)
}

fn xor(a: &Scalar, b: &Scalar) -> Scalar {
    finish(with_tnum(a.tnum.xor(b.tnum)))
}

#[derive(Clone, Copy)]
enum Shift {
    L,
    R,
    A,
}

/// `a` shifted by `s`, where `s` is already masked to the operand width.
fn shift(kind: Shift, a: &Scalar, s: &Scalar) -> Scalar {
    let (kmin, kmax) = (s.umin.min(63) as u32, s.umax.min(63) as u32);
    let mut t: Option<Tnum> = None;
    for k in kmin..=kmax {
        if !s.tnum.contains(u64::from(k)) {
            continue;
        }
        let tk = match kind {
            Shift::L => a.tnum.lsh(k),
            Shift::R => a.tnum.rsh(k),
            Shift::A => a.tnum.arsh(k),
        };
        t = Some(t.map_or(tk, |t| t.union(tk)));
    }
    let mut r = with_tnum(t.unwrap_or(Tnum::UNKNOWN));
    match kind {
        Shift::L => {
            if a.umax.leading_zeros() >= kmax {
                r.umin = a.umin << kmin;
                r.umax = a.umax << kmax;
            }
        }
        Shift::R => {
            r.umin = a.umin >> kmax;
            r.umax = a.umax >> kmin;
        }
        Shift::A => {
            r.smin = (a.smin >> kmin).min(a.smin >> kmax);
            r.smax = (a.smax >> kmin).max(a.smax >> kmax);
        }
    }
    finish(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::tests::member;
    use proptest::prelude::*;

    /// The concrete semantics, as RFC 9669 defines them.
    pub fn concrete(width: Width, op: AluOp, x: u64, y: u64) -> u64 {
        match width {
            Width::W64 => match op {
                AluOp::Add => x.wrapping_add(y),
                AluOp::Sub => x.wrapping_sub(y),
                AluOp::Mul => x.wrapping_mul(y),
                AluOp::Div => x.checked_div(y).unwrap_or(0),
                AluOp::SDiv => {
                    if y == 0 {
                        0
                    } else {
                        (x as i64).wrapping_div(y as i64) as u64
                    }
                }
                AluOp::Mod => x.checked_rem(y).unwrap_or(x),
                AluOp::SMod => {
                    if y == 0 {
                        x
                    } else {
                        (x as i64).wrapping_rem(y as i64) as u64
                    }
                }
                AluOp::Or => x | y,
                AluOp::And => x & y,
                AluOp::Xor => x ^ y,
                AluOp::Lsh => x << (y & 63),
                AluOp::Rsh => x >> (y & 63),
                AluOp::Arsh => ((x as i64) >> (y & 63)) as u64,
                AluOp::Mov => y,
            },
            Width::W32 => {
                let (a, b) = (x as u32, y as u32);
                u64::from(match op {
                    AluOp::Add => a.wrapping_add(b),
                    AluOp::Sub => a.wrapping_sub(b),
                    AluOp::Mul => a.wrapping_mul(b),
                    AluOp::Div => a.checked_div(b).unwrap_or(0),
                    AluOp::SDiv => {
                        if b == 0 {
                            0
                        } else {
                            (a as i32).wrapping_div(b as i32) as u32
                        }
                    }
                    AluOp::Mod => a.checked_rem(b).unwrap_or(a),
                    AluOp::SMod => {
                        if b == 0 {
                            a
                        } else {
                            (a as i32).wrapping_rem(b as i32) as u32
                        }
                    }
                    AluOp::Or => a | b,
                    AluOp::And => a & b,
                    AluOp::Xor => a ^ b,
                    AluOp::Lsh => a << (b & 31),
                    AluOp::Rsh => a >> (b & 31),
                    AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
                    AluOp::Mov => b,
                })
            }
        }
    }

    const OPS: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn every_alu_op_is_sound((a, x) in member(), (b, y) in member(), op in 0usize..14, w in any::<bool>()) {
            let width = if w { Width::W64 } else { Width::W32 };
            let op = OPS[op];
            let r = alu(width, op, &a, &b);
            let c = concrete(width, op, x, y);
            prop_assert!(r.contains(c), "{width:?} {op:?}: {a:?} ({x:#x}) , {b:?} ({y:#x}) -> {r:?} lacks {c:#x}");
        }

        #[test]
        fn unary_ops_are_sound((a, x) in member(), w in any::<bool>()) {
            let width = if w { Width::W64 } else { Width::W32 };
            let n = neg(width, &a);
            let c = match width { Width::W64 => x.wrapping_neg(), Width::W32 => u64::from((x as u32).wrapping_neg()) };
            prop_assert!(n.contains(c));
            for bits in [8u8, 16, 32] {
                let c = match bits { 8 => x as i8 as i64 as u64, 16 => x as i16 as i64 as u64, _ => x as i32 as i64 as u64 };
                prop_assert!(movsx(Width::W64, &a, bits).contains(c));
                prop_assert!(movsx(Width::W32, &a, bits).contains(c & 0xffff_ffff));
            }
            for bits in [16u8, 32, 64] {
                let m = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
                prop_assert!(swap(SwapOrder::ToLe, &a, bits).contains(x & m));
                let sw = (x & m).swap_bytes() >> (64 - u32::from(bits));
                prop_assert!(swap(SwapOrder::ToBe, &a, bits).contains(sw));
                prop_assert!(swap(SwapOrder::Swap, &a, bits).contains(sw));
            }
        }
    }

    #[test]
    fn masks_and_shifts_bound_offsets() {
        let x = Scalar::UNKNOWN;
        let m = alu(Width::W64, AluOp::And, &x, &Scalar::constant(7));
        assert_eq!((m.umin, m.umax), (0, 7));
        let s = alu(Width::W64, AluOp::Lsh, &m, &Scalar::constant(3));
        assert_eq!((s.umin, s.umax), (0, 56));
        assert_eq!(s.tnum.mask, 0x38);
        let r = alu(Width::W64, AluOp::Rsh, &x, &Scalar::constant(60));
        assert_eq!((r.umin, r.umax), (0, 15));
        let d = alu(Width::W64, AluOp::Div, &x, &Scalar::constant(0));
        assert_eq!(d.as_const(), Some(0));
        let w = alu(Width::W32, AluOp::Mov, &x, &x);
        assert_eq!(w.umax, u64::from(u32::MAX));
    }
}
