//! The arithmetic of RFC 9669, as pure functions of operand values.
//!
//! Kept apart from the machine so each rule is visible on its own and the
//! JIT's tests can compare against these functions directly. Operands arrive
//! already widened the way the RFC says: 64-bit immediates are sign-extended,
//! 32-bit operations look only at the low halves.

use crate::insn::{AluOp, JmpCond, SwapOrder, Width};

/// `dst op src` for a 64-bit ALU operation. `src` is the register value or
/// the sign-extended immediate.
pub fn alu64(op: AluOp, dst: u64, src: u64) -> u64 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        // Division by zero is defined: the quotient is 0 ...
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        // ... and the remainder leaves the dividend alone.
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        // Signed: `MIN / -1` wraps to `MIN` and `MIN % -1` is 0, which is
        // exactly what the wrapping operations do; the remainder takes the
        // dividend's sign (truncating division), as the RFC specifies.
        AluOp::SDiv => {
            if src == 0 {
                0
            } else {
                (dst as i64).wrapping_div(src as i64) as u64
            }
        }
        AluOp::SMod => {
            if src == 0 {
                dst
            } else {
                (dst as i64).wrapping_rem(src as i64) as u64
            }
        }
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Xor => dst ^ src,
        // Shift amounts are masked to the operand width.
        AluOp::Lsh => dst << (src & 63),
        AluOp::Rsh => dst >> (src & 63),
        AluOp::Arsh => ((dst as i64) >> (src & 63)) as u64,
        AluOp::Mov => src,
    }
}

/// `dst op src` for a 32-bit ALU operation: only the low halves take part
/// and the result is zero-extended.
pub fn alu32(op: AluOp, dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as u32, src as u32);
    let r: u32 = match op {
        AluOp::Add => d.wrapping_add(s),
        AluOp::Sub => d.wrapping_sub(s),
        AluOp::Mul => d.wrapping_mul(s),
        AluOp::Div => d.checked_div(s).unwrap_or(0),
        // Modulo by zero leaves the destination, but as a 32-bit operation:
        // the upper half is still cleared.
        AluOp::Mod => d.checked_rem(s).unwrap_or(d),
        AluOp::SDiv => {
            if s == 0 {
                0
            } else {
                (d as i32).wrapping_div(s as i32) as u32
            }
        }
        AluOp::SMod => {
            if s == 0 {
                d
            } else {
                (d as i32).wrapping_rem(s as i32) as u32
            }
        }
        AluOp::Or => d | s,
        AluOp::And => d & s,
        AluOp::Xor => d ^ s,
        AluOp::Lsh => d << (s & 31),
        AluOp::Rsh => d >> (s & 31),
        AluOp::Arsh => ((d as i32) >> (s & 31)) as u32,
        AluOp::Mov => s,
    };
    u64::from(r)
}

/// An ALU operation of either width.
pub fn alu(width: Width, op: AluOp, dst: u64, src: u64) -> u64 {
    match width {
        Width::W64 => alu64(op, dst, src),
        Width::W32 => alu32(op, dst, src),
    }
}

/// `dst = -dst`.
pub fn neg(width: Width, dst: u64) -> u64 {
    match width {
        Width::W64 => dst.wrapping_neg(),
        Width::W32 => u64::from((dst as u32).wrapping_neg()),
    }
}

/// `dst = (sN) src` (`movsx`): sign-extend the low `bits` of `src`; the
/// 32-bit form sign-extends to 32 bits and then zero-extends.
pub fn movsx(width: Width, src: u64, bits: u8) -> u64 {
    let wide: i64 = match bits {
        8 => i64::from(src as i8),
        16 => i64::from(src as i16),
        _ => i64::from(src as i32),
    };
    match width {
        Width::W64 => wide as u64,
        Width::W32 => u64::from(wide as u32),
    }
}

/// A byte-swap instruction on the low `bits` of `dst`; the result is
/// zero-extended.
pub fn swap(order: SwapOrder, dst: u64, bits: u8) -> u64 {
    // This machine is little-endian, so "to little-endian" only truncates,
    // and both "to big-endian" and the unconditional swap reverse bytes.
    let reverse = !matches!(order, SwapOrder::ToLe);
    match bits {
        16 => {
            let v = dst as u16;
            u64::from(if reverse { v.swap_bytes() } else { v })
        }
        32 => {
            let v = dst as u32;
            u64::from(if reverse { v.swap_bytes() } else { v })
        }
        _ => {
            if reverse {
                dst.swap_bytes()
            } else {
                dst
            }
        }
    }
}

/// Sign-extend a loaded value of `size` bytes (`MEMSX`).
pub fn sign_extend(value: u64, size: usize) -> u64 {
    match size {
        1 => i64::from(value as i8) as u64,
        2 => i64::from(value as i16) as u64,
        4 => i64::from(value as i32) as u64,
        _ => value,
    }
}

/// Whether a conditional jump is taken. For `W64`, `src` is the register or
/// the sign-extended immediate; for `W32` only the low halves are compared.
pub fn jump_taken(width: Width, cond: JmpCond, dst: u64, src: u64) -> bool {
    match width {
        Width::W64 => compare(cond, dst, src, dst as i64, src as i64),
        Width::W32 => compare(
            cond,
            u64::from(dst as u32),
            u64::from(src as u32),
            i64::from(dst as i32),
            i64::from(src as i32),
        ),
    }
}

fn compare(cond: JmpCond, a: u64, b: u64, sa: i64, sb: i64) -> bool {
    match cond {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Set => a & b != 0,
        JmpCond::Sgt => sa > sb,
        JmpCond::Sge => sa >= sb,
        JmpCond::Slt => sa < sb,
        JmpCond::Sle => sa <= sb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_zero_is_defined() {
        assert_eq!(alu64(AluOp::Div, 7, 0), 0);
        assert_eq!(alu64(AluOp::Mod, 7, 0), 7);
        assert_eq!(alu64(AluOp::SDiv, 7, 0), 0);
        assert_eq!(alu64(AluOp::SMod, u64::MAX, 0), u64::MAX);
        assert_eq!(alu32(AluOp::Div, 0xffff_ffff_0000_0007, 0), 0);
        assert_eq!(alu32(AluOp::Mod, 0xffff_ffff_0000_0007, 0), 7);
        assert_eq!(alu32(AluOp::SMod, 0xffff_ffff_8000_0000, 0), 0x8000_0000);
    }

    #[test]
    fn signed_overflow_wraps() {
        let min = i64::MIN as u64;
        assert_eq!(alu64(AluOp::SDiv, min, u64::MAX), min);
        assert_eq!(alu64(AluOp::SMod, min, u64::MAX), 0);
        assert_eq!(alu32(AluOp::SDiv, 0x8000_0000, 0xffff_ffff), 0x8000_0000);
        assert_eq!(alu32(AluOp::SMod, 0x8000_0000, 0xffff_ffff), 0);
        // the remainder has the dividend's sign
        assert_eq!(alu64(AluOp::SMod, (-7i64) as u64, 2), (-1i64) as u64);
        assert_eq!(alu64(AluOp::SMod, 7, (-2i64) as u64), 1);
    }

    #[test]
    fn shifts_are_masked() {
        assert_eq!(alu64(AluOp::Lsh, 1, 64), 1);
        assert_eq!(alu64(AluOp::Lsh, 1, 65), 2);
        assert_eq!(alu32(AluOp::Lsh, 1, 32), 1);
        assert_eq!(alu32(AluOp::Arsh, 0x8000_0000, 31), 0xffff_ffff);
        assert_eq!(alu64(AluOp::Arsh, 1 << 63, 63), u64::MAX);
    }

    #[test]
    fn swaps_and_extensions() {
        assert_eq!(swap(SwapOrder::ToLe, 0x1122_3344_5566_7788, 16), 0x7788);
        assert_eq!(swap(SwapOrder::ToBe, 0x1122_3344_5566_7788, 16), 0x8877);
        assert_eq!(
            swap(SwapOrder::ToBe, 0x1122_3344_5566_7788, 32),
            0x8877_6655
        );
        assert_eq!(
            swap(SwapOrder::Swap, 0x1122_3344_5566_7788, 64),
            0x8877_6655_4433_2211
        );
        assert_eq!(movsx(Width::W64, 0x80, 8), 0xffff_ffff_ffff_ff80);
        assert_eq!(movsx(Width::W32, 0x80, 8), 0xffff_ff80);
        assert_eq!(movsx(Width::W64, 0x8000_0000, 32), 0xffff_ffff_8000_0000);
        assert_eq!(sign_extend(0xfffe, 2), (-2i64) as u64);
    }

    #[test]
    fn jmp32_ignores_the_high_half() {
        let a = 0x1_0000_0005;
        assert!(jump_taken(Width::W32, JmpCond::Eq, a, 5));
        assert!(!jump_taken(Width::W64, JmpCond::Eq, a, 5));
        assert!(jump_taken(Width::W32, JmpCond::Slt, 0xffff_ffff, 0));
        assert!(!jump_taken(Width::W64, JmpCond::Slt, 0xffff_ffff, 0));
    }
}
