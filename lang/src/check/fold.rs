//! Constant folding with the bytecode's exact semantics (RFC 9669):
//! wrapping arithmetic, shifts masked to 6 bits, division by zero gives 0
//! and modulo by zero leaves the dividend. Folding must never change what a
//! program computes, only when.

use crate::ast::{BinOp, UnOp};

/// `a op b` on 64-bit patterns; `signed` picks signed division, modulo,
/// right shift and comparisons.
pub fn binary(op: BinOp, a: u64, b: u64, signed: bool) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    let t = u64::from;
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b == 0 => 0,
        BinOp::Div if signed => sa.wrapping_div(sb) as u64,
        BinOp::Div => a / b,
        BinOp::Mod if b == 0 => a,
        BinOp::Mod if signed => sa.wrapping_rem(sb) as u64,
        BinOp::Mod => a % b,
        BinOp::Shl => a.wrapping_shl((b & 63) as u32),
        BinOp::Shr if signed => sa.wrapping_shr((b & 63) as u32) as u64,
        BinOp::Shr => a.wrapping_shr((b & 63) as u32),
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
        BinOp::Lt if signed => t(sa < sb),
        BinOp::Le if signed => t(sa <= sb),
        BinOp::Gt if signed => t(sa > sb),
        BinOp::Ge if signed => t(sa >= sb),
        BinOp::Lt => t(a < b),
        BinOp::Le => t(a <= b),
        BinOp::Gt => t(a > b),
        BinOp::Ge => t(a >= b),
        BinOp::Eq => t(a == b),
        BinOp::Ne => t(a != b),
        BinOp::And => t(a != 0 && b != 0),
        BinOp::Or => t(a != 0 || b != 0),
    }
}

/// `op a`.
pub fn unary(op: UnOp, a: u64) -> u64 {
    match op {
        UnOp::Neg => a.wrapping_neg(),
        UnOp::Not => u64::from(a == 0),
        UnOp::BitNot => !a,
    }
}

/// Truncate (and for signed types sign-extend) to `bytes`.
pub fn cast(v: u64, bytes: u8, signed: bool) -> u64 {
    if bytes >= 8 {
        return v;
    }
    let bits = u32::from(bytes) * 8;
    let shift = 64 - bits;
    if signed {
        (((v << shift) as i64) >> shift) as u64
    } else {
        v & ((1u64 << bits) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_edge_cases() {
        assert_eq!(binary(BinOp::Div, 7, 0, false), 0);
        assert_eq!(binary(BinOp::Mod, 7, 0, true), 7);
        assert_eq!(
            binary(BinOp::Div, i64::MIN as u64, -1i64 as u64, true),
            i64::MIN as u64
        );
        assert_eq!(binary(BinOp::Shl, 1, 65, false), 2);
        assert_eq!(binary(BinOp::Shr, -8i64 as u64, 1, true), -4i64 as u64);
        assert_eq!(binary(BinOp::Lt, -1i64 as u64, 0, true), 1);
        assert_eq!(binary(BinOp::Lt, -1i64 as u64, 0, false), 0);
        assert_eq!(cast(0x1ff, 1, false), 0xff);
        assert_eq!(cast(0xff, 1, true), u64::MAX);
        assert_eq!(unary(UnOp::Not, 5), 0);
    }
}
