//! The spellings shared by the printer and the parser.
//!
//! Each table is the one place that pairs an operation with its text, so the
//! disassembler and the assembler cannot drift apart.

use crate::insn::{AluOp, JmpCond, LoadImmKind, Size, SwapOrder, Width};

/// Two-operand ALU operations and their assignment operators.
pub(super) const ALU_OPS: [(AluOp, &str); 14] = [
    (AluOp::Add, "+="),
    (AluOp::Sub, "-="),
    (AluOp::Mul, "*="),
    (AluOp::Div, "/="),
    (AluOp::SDiv, "s/="),
    (AluOp::Or, "|="),
    (AluOp::And, "&="),
    (AluOp::Lsh, "<<="),
    (AluOp::Rsh, ">>="),
    (AluOp::Mod, "%="),
    (AluOp::SMod, "s%="),
    (AluOp::Xor, "^="),
    (AluOp::Mov, "="),
    (AluOp::Arsh, "s>>="),
];

/// Jump conditions and their comparison operators.
pub(super) const CONDS: [(JmpCond, &str); 11] = [
    (JmpCond::Eq, "=="),
    (JmpCond::Gt, ">"),
    (JmpCond::Ge, ">="),
    (JmpCond::Set, "&"),
    (JmpCond::Ne, "!="),
    (JmpCond::Sgt, "s>"),
    (JmpCond::Sge, "s>="),
    (JmpCond::Lt, "<"),
    (JmpCond::Le, "<="),
    (JmpCond::Slt, "s<"),
    (JmpCond::Sle, "s<="),
];

/// Memory access types: `(size, sign-extending, name)`.
pub(super) const ACCESS_TYPES: [(Size, bool, &str); 7] = [
    (Size::B, false, "u8"),
    (Size::H, false, "u16"),
    (Size::W, false, "u32"),
    (Size::DW, false, "u64"),
    (Size::B, true, "s8"),
    (Size::H, true, "s16"),
    (Size::W, true, "s32"),
];

/// `lddw` sources other than a plain constant, by the name written before `[N]`.
pub(super) const LOAD_KINDS: [(LoadImmKind, &str); 6] = [
    (LoadImmKind::Map, "map"),
    (LoadImmKind::MapValue, "map_value"),
    (LoadImmKind::VarAddr, "var_addr"),
    (LoadImmKind::CodeAddr, "code_addr"),
    (LoadImmKind::MapByIdx, "map_idx"),
    (LoadImmKind::MapValueByIdx, "map_idx_value"),
];

/// Byte-swap kinds by the prefix written before the width (`be16`, `bswap64`).
pub(super) const SWAPS: [(SwapOrder, &str); 3] = [
    (SwapOrder::ToLe, "le"),
    (SwapOrder::ToBe, "be"),
    (SwapOrder::Swap, "bswap"),
];

pub(super) fn alu_op_text(op: AluOp) -> &'static str {
    lookup(&ALU_OPS, op)
}

pub(super) fn cond_text(cond: JmpCond) -> &'static str {
    lookup(&CONDS, cond)
}

pub(super) fn load_kind_name(kind: LoadImmKind) -> &'static str {
    lookup(&LOAD_KINDS, kind)
}

pub(super) fn swap_name(order: SwapOrder) -> &'static str {
    lookup(&SWAPS, order)
}

pub(super) fn access_type_name(size: Size, signed: bool) -> &'static str {
    ACCESS_TYPES
        .iter()
        .find(|&&(s, sx, _)| s == size && sx == signed)
        // Only `Op::decode` builds `Load`s, and it never yields a signed
        // 8-byte load; the fallback keeps this total without a panic.
        .map_or("u64", |&(_, _, name)| name)
}

/// `r` for 64-bit register views, `w` for 32-bit ones.
pub(super) const fn reg_prefix(width: Width) -> char {
    match width {
        Width::W32 => 'w',
        Width::W64 => 'r',
    }
}

/// The text paired with `key`. Every table above covers every variant of its
/// key type (a gap would print an empty operator, which the exhaustive
/// round-trip test in `tests/asm_roundtrip.rs` would catch); the empty
/// fallback only keeps this free of panics.
fn lookup<K: PartialEq + Copy>(table: &[(K, &'static str)], key: K) -> &'static str {
    table
        .iter()
        .find(|&&(k, _)| k == key)
        .map_or("", |&(_, text)| text)
}
