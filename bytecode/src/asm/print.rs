//! The disassembler: the canonical text of each instruction.
//!
//! The text is the llvm-objdump / Linux verifier-log syntax. It is canonical:
//! every `Op` has exactly one spelling, and the assembler reads each spelling
//! back to the same `Op`, so disassembling and reassembling reproduces a
//! program byte for byte.

use alloc::string::String;
use core::fmt::{self, Write};

use super::syntax::{
    access_type_name, alu_op_text, cond_text, load_kind_name, reg_prefix, swap_name,
};
use crate::abi::helpers;
use crate::insn::{
    AtomicOp, CallTarget, Insn, LoadImmKind, Op, Operand, ProgramError, Reg, Size, decode_program,
};

/// A register viewed at a width: `r1` or `w1`.
struct View(char, Reg);

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1.number())
    }
}

/// `r1 + 8` / `r10 - 8`: a base register and a signed offset, with the sign
/// spelled as an operator the way llvm prints it.
struct Addr(Reg, i16);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.1 < 0 { '-' } else { '+' };
        // unsigned_abs: i16::MIN has no positive i16 counterpart.
        write!(f, "{} {sign} {}", self.0, self.1.unsigned_abs())
    }
}

/// An ALU or jump source operand at the instruction's width.
struct Src(char, Operand);

impl fmt::Display for Src {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Operand::Reg(r) => View(self.0, r).fmt(f),
            Operand::Imm(i) => write!(f, "{i}"),
        }
    }
}

/// The 64-bit value of a plain `lddw`: small values in signed decimal, like
/// every other immediate; large ones in hex, where bit patterns are readable.
fn write_imm64(f: &mut fmt::Formatter<'_>, imm_lo: i32, imm_hi: i32) -> fmt::Result {
    let bits = (u64::from(imm_hi as u32) << 32) | u64::from(imm_lo as u32);
    let signed = bits as i64;
    if i32::try_from(signed).is_ok() {
        write!(f, "{signed}")
    } else {
        write!(f, "{bits:#x}")
    }
}

fn atomic_width(size: Size) -> char {
    match size {
        Size::DW => 'r',
        _ => 'w',
    }
}

impl fmt::Display for Op {
    /// The canonical assembly text of this instruction, without a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let p = reg_prefix(width);
                write!(f, "{} {} {}", View(p, dst), alu_op_text(op), Src(p, src))
            }
            Op::Neg { width, dst } => {
                let d = View(reg_prefix(width), dst);
                write!(f, "{d} = -{d}")
            }
            Op::MovSx {
                width,
                dst,
                src,
                bits,
            } => {
                let p = reg_prefix(width);
                write!(f, "{} = (s{bits}){}", View(p, dst), View(p, src))
            }
            Op::Swap { order, dst, bits } => {
                write!(f, "{dst} = {}{bits} {dst}", swap_name(order))
            }
            Op::LoadImm64 {
                kind,
                dst,
                imm_lo,
                imm_hi,
            } => {
                write!(f, "{dst} = ")?;
                if kind == LoadImmKind::Imm64 {
                    write_imm64(f, imm_lo, imm_hi)?;
                } else {
                    f.write_str(load_kind_name(kind))?;
                    // Code addresses are relative instruction offsets and
                    // signed; the other sources are indices or ids, unsigned.
                    if kind == LoadImmKind::CodeAddr {
                        write!(f, "[{imm_lo}]")?;
                    } else {
                        write!(f, "[{}]", imm_lo as u32)?;
                    }
                    // The second slot's immediate: the offset into a map
                    // value, unused by the other sources but kept so any
                    // slot that decodes survives a round trip.
                    if imm_hi != 0 {
                        let sign = if imm_hi < 0 { '-' } else { '+' };
                        write!(f, " {sign} {}", imm_hi.unsigned_abs())?;
                    }
                }
                f.write_str(" ll")
            }
            Op::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => write!(
                f,
                "{dst} = *({} *)({})",
                access_type_name(size, signed),
                Addr(src, off)
            ),
            Op::Store {
                size,
                dst,
                off,
                src,
            } => write!(
                f,
                "*({} *)({}) = {}",
                access_type_name(size, false),
                Addr(dst, off),
                Src('r', src)
            ),
            Op::Atomic {
                size,
                op,
                dst,
                off,
                src,
            } => {
                let ty = access_type_name(size, false);
                let addr = Addr(dst, off);
                let v = View(atomic_width(size), src);
                let (name, lock_op, fetch) = match op {
                    AtomicOp::Add { fetch } => ("add", "+=", fetch),
                    AtomicOp::Or { fetch } => ("or", "|=", fetch),
                    AtomicOp::And { fetch } => ("and", "&=", fetch),
                    AtomicOp::Xor { fetch } => ("xor", "^=", fetch),
                    AtomicOp::Xchg => {
                        let name = if size == Size::DW {
                            "xchg_64"
                        } else {
                            "xchg32_32"
                        };
                        return write!(f, "{v} = {name}({addr}, {v})");
                    }
                    AtomicOp::CmpXchg => {
                        let name = if size == Size::DW {
                            "cmpxchg_64"
                        } else {
                            "cmpxchg32_32"
                        };
                        let r0 = View(atomic_width(size), Reg::R0);
                        return write!(f, "{r0} = {name}({addr}, {r0}, {v})");
                    }
                };
                if fetch {
                    write!(f, "{v} = atomic_fetch_{name}(({ty} *)({addr}), {v})")
                } else {
                    write!(f, "lock *({ty} *)({addr}) {lock_op} {v}")
                }
            }
            Op::Ja { off, long } => {
                let m = if long { "gotol" } else { "goto" };
                write!(f, "{m} {off:+}")
            }
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let p = reg_prefix(width);
                write!(
                    f,
                    "if {} {} {} goto {off:+}",
                    View(p, dst),
                    cond_text(cond),
                    Src(p, src)
                )
            }
            Op::Call(CallTarget::Helper(id)) => match helpers::find(id) {
                Some(h) => write!(f, "call {}", h.name),
                None => write!(f, "call {}", id.0),
            },
            Op::Call(CallTarget::Local(off)) => write!(f, "call pc{off:+}"),
            Op::Call(CallTarget::Btf(id)) => write!(f, "call btf#{id}"),
            Op::Exit => f.write_str("exit"),
        }
    }
}

/// The canonical text of a program: one instruction per line (an `lddw` is
/// one line), each ending in a newline, without slot numbers.
///
/// Fails with the slot index of the first slot that does not decode.
/// [`super::assemble`] turns the text back into exactly `slots`.
pub fn disassemble(slots: &[Insn]) -> Result<String, ProgramError> {
    render(slots, false)
}

/// Like [`disassemble`], but each line starts with its slot index, as in a
/// verifier log: `12: r1 = *(u64 *)(r10 - 8)`. Because an `lddw` takes two
/// slots, the numbering skips its second slot. This listing is for people;
/// the assembler does not read it back.
pub fn disassemble_numbered(slots: &[Insn]) -> Result<String, ProgramError> {
    render(slots, true)
}

fn render(slots: &[Insn], numbered: bool) -> Result<String, ProgramError> {
    let ops = decode_program(slots)?;
    let mut out = String::new();
    for (idx, op) in ops {
        // Writing into a String cannot fail.
        let _ = if numbered {
            writeln!(out, "{idx}: {op}")
        } else {
            writeln!(out, "{op}")
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{AluOp, HelperId, JmpCond, SwapOrder, Width};

    fn text(op: Op) -> String {
        alloc::format!("{op}")
    }

    #[test]
    fn canonical_forms() {
        let r1 = Reg::R1;
        let r2 = Reg::R2;
        let cases: &[(Op, &str)] = &[
            (
                Op::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: r1,
                    src: Operand::Reg(r2),
                },
                "r1 += r2",
            ),
            (
                Op::Alu {
                    width: Width::W32,
                    op: AluOp::Add,
                    dst: r1,
                    src: Operand::Imm(-3),
                },
                "w1 += -3",
            ),
            (
                Op::Alu {
                    width: Width::W64,
                    op: AluOp::Arsh,
                    dst: r1,
                    src: Operand::Imm(2),
                },
                "r1 s>>= 2",
            ),
            (
                Op::Neg {
                    width: Width::W32,
                    dst: r1,
                },
                "w1 = -w1",
            ),
            (
                Op::MovSx {
                    width: Width::W32,
                    dst: r1,
                    src: r2,
                    bits: 16,
                },
                "w1 = (s16)w2",
            ),
            (
                Op::Swap {
                    order: SwapOrder::ToBe,
                    dst: r1,
                    bits: 16,
                },
                "r1 = be16 r1",
            ),
            (
                Op::Swap {
                    order: SwapOrder::Swap,
                    dst: r1,
                    bits: 64,
                },
                "r1 = bswap64 r1",
            ),
            (
                Op::LoadImm64 {
                    kind: LoadImmKind::Imm64,
                    dst: r1,
                    imm_lo: 0x2345_6789,
                    imm_hi: 1,
                },
                "r1 = 0x123456789 ll",
            ),
            (
                Op::LoadImm64 {
                    kind: LoadImmKind::Imm64,
                    dst: r1,
                    imm_lo: -1,
                    imm_hi: -1,
                },
                "r1 = -1 ll",
            ),
            (
                Op::LoadImm64 {
                    kind: LoadImmKind::Imm64,
                    dst: r1,
                    imm_lo: -1,
                    imm_hi: 0,
                },
                "r1 = 0xffffffff ll",
            ),
            (
                Op::LoadImm64 {
                    kind: LoadImmKind::MapValue,
                    dst: r1,
                    imm_lo: 3,
                    imm_hi: 8,
                },
                "r1 = map_value[3] + 8 ll",
            ),
            (
                Op::LoadImm64 {
                    kind: LoadImmKind::Map,
                    dst: r1,
                    imm_lo: -1,
                    imm_hi: i32::MIN,
                },
                "r1 = map[4294967295] - 2147483648 ll",
            ),
            (
                Op::Load {
                    size: Size::B,
                    signed: true,
                    dst: Reg::R0,
                    src: r1,
                    off: i16::MIN,
                },
                "r0 = *(s8 *)(r1 - 32768)",
            ),
            (
                Op::Store {
                    size: Size::W,
                    dst: Reg::FP,
                    off: -4,
                    src: Operand::Imm(5),
                },
                "*(u32 *)(r10 - 4) = 5",
            ),
            (
                Op::Atomic {
                    size: Size::W,
                    op: AtomicOp::Or { fetch: false },
                    dst: r1,
                    off: 0,
                    src: r2,
                },
                "lock *(u32 *)(r1 + 0) |= w2",
            ),
            (
                Op::Atomic {
                    size: Size::DW,
                    op: AtomicOp::Xor { fetch: true },
                    dst: r1,
                    off: 8,
                    src: r2,
                },
                "r2 = atomic_fetch_xor((u64 *)(r1 + 8), r2)",
            ),
            (
                Op::Atomic {
                    size: Size::W,
                    op: AtomicOp::CmpXchg,
                    dst: r1,
                    off: 0,
                    src: r2,
                },
                "w0 = cmpxchg32_32(r1 + 0, w0, w2)",
            ),
            (
                Op::Ja {
                    off: 0,
                    long: false,
                },
                "goto +0",
            ),
            (
                Op::Ja {
                    off: -70000,
                    long: true,
                },
                "gotol -70000",
            ),
            (
                Op::Jmp {
                    width: Width::W32,
                    cond: JmpCond::Slt,
                    dst: r1,
                    src: Operand::Imm(5),
                    off: 1,
                },
                "if w1 s< 5 goto +1",
            ),
            (
                Op::Call(CallTarget::Helper(HelperId(1))),
                "call map_lookup_elem",
            ),
            (
                Op::Call(CallTarget::Helper(HelperId(u32::MAX))),
                "call 4294967295",
            ),
            (Op::Call(CallTarget::Local(-3)), "call pc-3"),
            (Op::Call(CallTarget::Btf(-7)), "call btf#-7"),
            (Op::Exit, "exit"),
        ];
        for (op, want) in cases {
            assert_eq!(text(*op), *want, "{op:?}");
        }
    }

    #[test]
    fn numbered_listing_skips_the_second_lddw_slot() {
        let lddw = Op::LoadImm64 {
            kind: LoadImmKind::Map,
            dst: Reg::R1,
            imm_lo: 0,
            imm_hi: 0,
        }
        .encode();
        let slots = [lddw.0[0], lddw.0[1], Op::Exit.encode().0[0]];
        assert_eq!(
            disassemble_numbered(&slots).unwrap(),
            "0: r1 = map[0] ll\n2: exit\n"
        );
        let err = disassemble(&slots[..1]).unwrap_err();
        assert_eq!(err.at.0, 0);
    }
}
