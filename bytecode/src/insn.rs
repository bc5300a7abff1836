//! The RFC 9669 instruction encoding.
//!
//! Two levels live here:
//! - [`Insn`] is one raw 8-byte slot, exactly as it sits in memory
//!   (little-endian, `dst` in the low nibble of byte 1).
//! - [`Op`] is one *decoded* instruction: the only place in capscope that
//!   knows which bit patterns are valid. The assembler, the interpreter, the
//!   verifier and the JIT all work on [`Op`], so they agree on validity by
//!   construction.
//!
//! Validity is strict: every field an instruction does not use must be zero.
//! That makes the encoding canonical, which is what lets the disassembler and
//! the assembler round-trip every valid program byte for byte.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Size in bytes of one instruction slot.
pub const INSN_SIZE: usize = 8;

/// Number of bytes of stack a program may use below r10.
pub const STACK_SIZE: usize = 512;

/// A register, `r0` to `r10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reg(u8);

impl Reg {
    /// Return value and helper result.
    pub const R0: Reg = Reg(0);
    /// Context pointer on entry; first helper argument.
    pub const R1: Reg = Reg(1);
    /// Second helper argument.
    pub const R2: Reg = Reg(2);
    /// Third helper argument.
    pub const R3: Reg = Reg(3);
    /// Fourth helper argument.
    pub const R4: Reg = Reg(4);
    /// Fifth helper argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// Read-only frame pointer: one past the top of the 512-byte stack.
    pub const FP: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// The register with this number, if it exists.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }

    /// The register's number, 0 to 10.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The register's number as a byte, for encoding.
    pub const fn number(self) -> u8 {
        self.0
    }

    /// All registers in order.
    pub fn all() -> impl Iterator<Item = Reg> {
        (0..=10).map(Reg)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Index of an instruction *slot* in a program (an `lddw` takes two slots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InsnIdx(pub u32);

impl InsnIdx {
    /// The index as a `usize`, for slicing.
    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for InsnIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Index of a map in a probe object's map table (what `lddw rX, map[N]` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MapIdx(pub u32);

impl MapIdx {
    /// The index as a `usize`, for slicing.
    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for MapIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A helper function number (Linux numbering below 1000, capscope's own above).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HelperId(pub u32);

impl fmt::Display for HelperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One raw 8-byte instruction slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Insn {
    /// The opcode byte.
    pub code: u8,
    /// Destination register number (4 bits).
    pub dst: u8,
    /// Source register number (4 bits).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl Insn {
    /// Decode one slot from its 8 little-endian bytes.
    pub fn from_bytes(b: [u8; INSN_SIZE]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encode this slot as 8 little-endian bytes.
    ///
    /// `dst` and `src` are masked to 4 bits: a slot built with larger values
    /// is not representable and is never produced by [`Op::encode`].
    pub fn to_bytes(self) -> [u8; INSN_SIZE] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }
}

/// Instruction classes (the low three opcode bits).
#[allow(missing_docs)]
pub mod class {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
    pub const MASK: u8 = 0x07;
}

/// Arithmetic and jump encoding constants.
#[allow(missing_docs)]
pub mod code {
    // source bit
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    // ALU operations (high nibble)
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;
    // jump operations (high nibble)
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
    // load/store sizes
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    // load/store modes
    pub const IMM: u8 = 0x00;
    pub const ABS: u8 = 0x20;
    pub const IND: u8 = 0x40;
    pub const MEM: u8 = 0x60;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;
    // atomic operations (in imm)
    pub const FETCH: i32 = 0x01;
    pub const XCHG: i32 = 0xe0 | FETCH;
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
    /// The opcode of a 64-bit immediate load (`lddw`).
    pub const LDDW: u8 = super::class::LD | IMM | DW;
}

/// Operand width of an ALU or jump instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit (`ALU`, `JMP32`): operates on the low halves; ALU results zero-extend.
    W32,
    /// 64-bit (`ALU64`, `JMP`).
    W64,
}

/// The second operand of an ALU, jump or store instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register.
    Reg(Reg),
    /// A 32-bit immediate (sign-extended to 64 bits where the operation is 64-bit).
    Imm(i32),
}

/// A two-operand arithmetic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division; by zero gives 0.
    Div,
    /// Signed division (offset 1); by zero gives 0, `MIN / -1` wraps to `MIN`.
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    /// Unsigned modulo; by zero leaves the destination (zero-extended in 32-bit).
    Mod,
    /// Signed modulo (offset 1); by zero leaves the destination, `MIN % -1` is 0.
    SMod,
    Xor,
    Mov,
    Arsh,
}

/// A memory access size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    /// The access size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    const fn code(self) -> u8 {
        match self {
            Size::B => code::B,
            Size::H => code::H,
            Size::W => code::W,
            Size::DW => code::DW,
        }
    }

    const fn from_code(c: u8) -> Size {
        match c & 0x18 {
            code::B => Size::B,
            code::H => Size::H,
            code::W => Size::W,
            _ => Size::DW,
        }
    }
}

/// A byte-swap instruction's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwapOrder {
    /// Convert to little-endian (`ALU | END | TO_LE`): on this little-endian
    /// machine it only truncates to the width.
    ToLe,
    /// Convert to big-endian (`ALU | END | TO_BE`): swaps, then truncates.
    ToBe,
    /// Unconditional swap (`ALU64 | END`).
    Swap,
}

/// A conditional jump's comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum JmpCond {
    Eq,
    Gt,
    Ge,
    /// `dst & src != 0`
    Set,
    Ne,
    Sgt,
    Sge,
    Lt,
    Le,
    Slt,
    Sle,
}

/// An atomic read-modify-write operation. With `fetch`, the old memory value
/// is written back into the source register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AtomicOp {
    /// `*p += src`, with `fetch` the old value goes to `src`.
    Add { fetch: bool },
    /// `*p |= src`
    Or { fetch: bool },
    /// `*p &= src`
    And { fetch: bool },
    /// `*p ^= src`
    Xor { fetch: bool },
    /// Swap `*p` and `src`.
    Xchg,
    /// If `*p == r0` then `*p = src`; `r0` gets the old value either way.
    CmpXchg,
}

/// What the 64-bit immediate of an `lddw` means (its `src` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadImmKind {
    /// `src = 0`: a plain 64-bit constant.
    Imm64,
    /// `src = 1`: a map, by its index in the object's map table (Linux's
    /// pseudo map fd). Only the low 32 bits of the immediate are used.
    Map,
    /// `src = 2`: the address of a map's value plus the second half's
    /// immediate as offset.
    MapValue,
    /// `src = 3`: a variable's address.
    VarAddr,
    /// `src = 4`: a code address.
    CodeAddr,
    /// `src = 5`: a map by index (distinct from the fd form in RFC 9669).
    MapByIdx,
    /// `src = 6`: a map value by index plus offset.
    MapValueByIdx,
}

impl LoadImmKind {
    /// The `src` field value.
    pub const fn src(self) -> u8 {
        match self {
            LoadImmKind::Imm64 => 0,
            LoadImmKind::Map => 1,
            LoadImmKind::MapValue => 2,
            LoadImmKind::VarAddr => 3,
            LoadImmKind::CodeAddr => 4,
            LoadImmKind::MapByIdx => 5,
            LoadImmKind::MapValueByIdx => 6,
        }
    }

    const fn from_src(src: u8) -> Option<LoadImmKind> {
        Some(match src {
            0 => LoadImmKind::Imm64,
            1 => LoadImmKind::Map,
            2 => LoadImmKind::MapValue,
            3 => LoadImmKind::VarAddr,
            4 => LoadImmKind::CodeAddr,
            5 => LoadImmKind::MapByIdx,
            6 => LoadImmKind::MapValueByIdx,
            _ => return None,
        })
    }
}

/// What a `call` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// `src = 0`: a helper by number.
    Helper(HelperId),
    /// `src = 1`: a function in the same program, at `pc + 1 + offset`.
    Local(i32),
    /// `src = 2`: a helper by BTF id (a Linux kfunc).
    Btf(i32),
}

/// One decoded instruction.
///
/// Jump offsets are relative to the slot after the instruction, as encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `dst op= src`
    Alu {
        /// 32- or 64-bit.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// `dst = -dst`
    Neg {
        /// 32- or 64-bit.
        width: Width,
        /// The register negated in place.
        dst: Reg,
    },
    /// `dst = (sN) src`: sign-extending move (`MOVSX`).
    MovSx {
        /// 32-bit moves zero-extend the sign-extended 32-bit result.
        width: Width,
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
        /// Width of the source value: 8, 16, or (64-bit only) 32.
        bits: u8,
    },
    /// Byte swap of the low `bits` bits of `dst`, zero-extended.
    Swap {
        /// Which conversion.
        order: SwapOrder,
        /// The register swapped in place.
        dst: Reg,
        /// 16, 32 or 64.
        bits: u8,
    },
    /// `lddw`: a 64-bit immediate load; occupies two slots.
    LoadImm64 {
        /// What the immediate means.
        kind: LoadImmKind,
        /// Destination.
        dst: Reg,
        /// The first slot's immediate (low 32 bits; the map index for `Map`).
        imm_lo: i32,
        /// The second slot's immediate (high 32 bits; an offset for map values).
        imm_hi: i32,
    },
    /// `dst = *(size *)(src + off)`, sign-extending with `MEMSX`.
    Load {
        /// Access size.
        size: Size,
        /// Sign-extend the loaded value (`MEMSX`; not for `DW`).
        signed: bool,
        /// Destination register.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// `*(size *)(dst + off) = src`
    Store {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Offset from the base.
        off: i16,
        /// Stored value: a register (`STX`) or an immediate (`ST`).
        src: Operand,
    },
    /// Atomic read-modify-write at `dst + off`.
    Atomic {
        /// `W` or `DW`.
        size: Size,
        /// The operation.
        op: AtomicOp,
        /// Base address register.
        dst: Reg,
        /// Offset from the base.
        off: i16,
        /// Operand, and where fetched values go.
        src: Reg,
    },
    /// Unconditional jump. `long` jumps (`gotol`, `JMP32 | JA`) carry a
    /// 32-bit offset in `imm`; short ones a 16-bit offset in `off`.
    Ja {
        /// Relative target.
        off: i32,
        /// Encoded as `gotol`.
        long: bool,
    },
    /// Conditional jump.
    Jmp {
        /// Compare 32 (`JMP32`) or 64 bits.
        width: Width,
        /// The comparison.
        cond: JmpCond,
        /// Left operand.
        dst: Reg,
        /// Right operand.
        src: Operand,
        /// Relative target.
        off: i16,
    },
    /// Call a helper or a local function.
    Call(CallTarget),
    /// Return r0.
    Exit,
}

/// Why a slot sequence is not a valid instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The opcode byte names no RFC 9669 instruction.
    UnknownOpcode(u8),
    /// A register field above 10.
    BadRegister(u8),
    /// A field the instruction does not use is not zero.
    ReservedField(&'static str),
    /// A field holds a value the instruction does not allow (for example a
    /// byte-swap width of 24).
    BadField(&'static str),
    /// An `lddw` in the last slot, with no second half.
    TruncatedLddw,
    /// The second half of an `lddw` is not an all-zero slot but for its immediate.
    BadLddwSecondHalf,
    /// Legacy packet access (`ABS`/`IND`), deprecated by RFC 9669 and not
    /// supported because probes have no packet.
    LegacyPacketAccess,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownOpcode(c) => write!(f, "unknown opcode {c:#04x}"),
            DecodeError::BadRegister(r) => write!(f, "register r{r} does not exist (r0-r10)"),
            DecodeError::ReservedField(field) => {
                write!(f, "field `{field}` must be zero for this opcode")
            }
            DecodeError::BadField(field) => {
                write!(f, "invalid value in field `{field}` for this opcode")
            }
            DecodeError::TruncatedLddw => {
                write!(f, "lddw at the end of the program has no second half")
            }
            DecodeError::BadLddwSecondHalf => {
                write!(
                    f,
                    "second half of lddw must be zero except for its immediate"
                )
            }
            DecodeError::LegacyPacketAccess => {
                write!(f, "legacy packet access (ABS/IND) is not supported")
            }
        }
    }
}

fn reg(n: u8) -> Result<Reg, DecodeError> {
    Reg::new(n).ok_or(DecodeError::BadRegister(n))
}

fn zero<T: PartialEq + Default>(v: T, field: &'static str) -> Result<(), DecodeError> {
    if v == T::default() {
        Ok(())
    } else {
        Err(DecodeError::ReservedField(field))
    }
}

impl Op {
    /// Number of slots this instruction occupies (2 for `lddw`, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Op::LoadImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// Decode the instruction starting at `slots[0]`; an `lddw` also reads `slots[1]`.
    pub fn decode(slots: &[Insn]) -> Result<Op, DecodeError> {
        let Some(&i) = slots.first() else {
            return Err(DecodeError::TruncatedLddw);
        };
        match i.code & class::MASK {
            class::ALU | class::ALU64 => decode_alu(i),
            class::JMP | class::JMP32 => decode_jmp(i),
            class::LD => decode_ld(i, slots.get(1).copied()),
            class::LDX => decode_ldx(i),
            class::ST => decode_st(i),
            _ => decode_stx(i),
        }
    }

    /// Encode into one or two slots. Returns the slots and how many are used.
    pub fn encode(&self) -> ([Insn; 2], usize) {
        let mut out = [Insn::default(); 2];
        let used = self.slots();
        let first = &mut out[0];
        match *self {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (opc, off) = match op {
                    AluOp::Add => (code::ADD, 0),
                    AluOp::Sub => (code::SUB, 0),
                    AluOp::Mul => (code::MUL, 0),
                    AluOp::Div => (code::DIV, 0),
                    AluOp::SDiv => (code::DIV, 1),
                    AluOp::Or => (code::OR, 0),
                    AluOp::And => (code::AND, 0),
                    AluOp::Lsh => (code::LSH, 0),
                    AluOp::Rsh => (code::RSH, 0),
                    AluOp::Mod => (code::MOD, 0),
                    AluOp::SMod => (code::MOD, 1),
                    AluOp::Xor => (code::XOR, 0),
                    AluOp::Mov => (code::MOV, 0),
                    AluOp::Arsh => (code::ARSH, 0),
                };
                first.code = alu_class(width) | opc;
                first.dst = dst.number();
                first.off = off;
                set_operand(first, src);
            }
            Op::Neg { width, dst } => {
                first.code = alu_class(width) | code::NEG;
                first.dst = dst.number();
            }
            Op::MovSx {
                width,
                dst,
                src,
                bits,
            } => {
                first.code = alu_class(width) | code::MOV | code::X;
                first.dst = dst.number();
                first.src = src.number();
                first.off = i16::from(bits);
            }
            Op::Swap { order, dst, bits } => {
                first.code = match order {
                    SwapOrder::ToLe => class::ALU | code::END | code::K,
                    SwapOrder::ToBe => class::ALU | code::END | code::X,
                    SwapOrder::Swap => class::ALU64 | code::END,
                };
                first.dst = dst.number();
                first.imm = i32::from(bits);
            }
            Op::LoadImm64 {
                kind,
                dst,
                imm_lo,
                imm_hi,
            } => {
                first.code = code::LDDW;
                first.dst = dst.number();
                first.src = kind.src();
                first.imm = imm_lo;
                out[1].imm = imm_hi;
            }
            Op::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let mode = if signed { code::MEMSX } else { code::MEM };
                first.code = class::LDX | mode | size.code();
                first.dst = dst.number();
                first.src = src.number();
                first.off = off;
            }
            Op::Store {
                size,
                dst,
                off,
                src,
            } => {
                first.dst = dst.number();
                first.off = off;
                match src {
                    Operand::Reg(r) => {
                        first.code = class::STX | code::MEM | size.code();
                        first.src = r.number();
                    }
                    Operand::Imm(imm) => {
                        first.code = class::ST | code::MEM | size.code();
                        first.imm = imm;
                    }
                }
            }
            Op::Atomic {
                size,
                op,
                dst,
                off,
                src,
            } => {
                first.code = class::STX | code::ATOMIC | size.code();
                first.dst = dst.number();
                first.src = src.number();
                first.off = off;
                first.imm = match op {
                    AtomicOp::Add { fetch } => i32::from(code::ADD) | fetch_bit(fetch),
                    AtomicOp::Or { fetch } => i32::from(code::OR) | fetch_bit(fetch),
                    AtomicOp::And { fetch } => i32::from(code::AND) | fetch_bit(fetch),
                    AtomicOp::Xor { fetch } => i32::from(code::XOR) | fetch_bit(fetch),
                    AtomicOp::Xchg => code::XCHG,
                    AtomicOp::CmpXchg => code::CMPXCHG,
                };
            }
            Op::Ja { off, long } => {
                if long {
                    first.code = class::JMP32 | code::JA;
                    first.imm = off;
                } else {
                    first.code = class::JMP | code::JA;
                    // A short jump's offset always fits: decode only produces
                    // i16 values, and the assembler range-checks its input.
                    first.off = off as i16;
                }
            }
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let jc = match width {
                    Width::W32 => class::JMP32,
                    Width::W64 => class::JMP,
                };
                first.code = jc | cond_code(cond);
                first.dst = dst.number();
                first.off = off;
                set_operand(first, src);
            }
            Op::Call(target) => {
                first.code = class::JMP | code::CALL;
                match target {
                    CallTarget::Helper(HelperId(id)) => first.imm = id as i32,
                    CallTarget::Local(off) => {
                        first.src = 1;
                        first.imm = off;
                    }
                    CallTarget::Btf(id) => {
                        first.src = 2;
                        first.imm = id;
                    }
                }
            }
            Op::Exit => first.code = class::JMP | code::EXIT,
        }
        (out, used)
    }

    /// For jumps, the relative offset to the target slot.
    pub fn jump_offset(&self) -> Option<i64> {
        match *self {
            Op::Ja { off, .. } => Some(i64::from(off)),
            Op::Jmp { off, .. } => Some(i64::from(off)),
            _ => None,
        }
    }
}

fn fetch_bit(fetch: bool) -> i32 {
    if fetch { code::FETCH } else { 0 }
}

const fn alu_class(w: Width) -> u8 {
    match w {
        Width::W32 => class::ALU,
        Width::W64 => class::ALU64,
    }
}

fn set_operand(i: &mut Insn, src: Operand) {
    match src {
        Operand::Reg(r) => {
            i.code |= code::X;
            i.src = r.number();
        }
        Operand::Imm(imm) => i.imm = imm,
    }
}

const fn cond_code(c: JmpCond) -> u8 {
    match c {
        JmpCond::Eq => code::JEQ,
        JmpCond::Gt => code::JGT,
        JmpCond::Ge => code::JGE,
        JmpCond::Set => code::JSET,
        JmpCond::Ne => code::JNE,
        JmpCond::Sgt => code::JSGT,
        JmpCond::Sge => code::JSGE,
        JmpCond::Lt => code::JLT,
        JmpCond::Le => code::JLE,
        JmpCond::Slt => code::JSLT,
        JmpCond::Sle => code::JSLE,
    }
}

/// The second operand of an ALU/jump slot, checking that the unused one is zero.
fn operand(i: Insn) -> Result<Operand, DecodeError> {
    if i.code & code::X != 0 {
        zero(i.imm, "imm")?;
        Ok(Operand::Reg(reg(i.src)?))
    } else {
        zero(i.src, "src")?;
        Ok(Operand::Imm(i.imm))
    }
}

fn decode_alu(i: Insn) -> Result<Op, DecodeError> {
    let width = if i.code & class::MASK == class::ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let dst = reg(i.dst)?;
    let op = match i.code & 0xf0 {
        code::ADD => AluOp::Add,
        code::SUB => AluOp::Sub,
        code::MUL => AluOp::Mul,
        code::DIV => match i.off {
            0 => AluOp::Div,
            1 => AluOp::SDiv,
            _ => return Err(DecodeError::BadField("off")),
        },
        code::OR => AluOp::Or,
        code::AND => AluOp::And,
        code::LSH => AluOp::Lsh,
        code::RSH => AluOp::Rsh,
        code::MOD => match i.off {
            0 => AluOp::Mod,
            1 => AluOp::SMod,
            _ => return Err(DecodeError::BadField("off")),
        },
        code::XOR => AluOp::Xor,
        code::MOV => {
            if i.off != 0 {
                // MOVSX: register source only; 32-bit only from 8 or 16 bits.
                if i.code & code::X == 0 {
                    return Err(DecodeError::BadField("off"));
                }
                let bits = match (width, i.off) {
                    (_, 8) => 8,
                    (_, 16) => 16,
                    (Width::W64, 32) => 32,
                    _ => return Err(DecodeError::BadField("off")),
                };
                zero(i.imm, "imm")?;
                return Ok(Op::MovSx {
                    width,
                    dst,
                    src: reg(i.src)?,
                    bits,
                });
            }
            AluOp::Mov
        }
        code::ARSH => AluOp::Arsh,
        code::NEG => {
            if i.code & code::X != 0 {
                return Err(DecodeError::BadField("source bit"));
            }
            zero(i.src, "src")?;
            zero(i.off, "off")?;
            zero(i.imm, "imm")?;
            return Ok(Op::Neg { width, dst });
        }
        code::END => {
            let order = match (width, i.code & code::X) {
                (Width::W32, code::K) => SwapOrder::ToLe,
                (Width::W32, _) => SwapOrder::ToBe,
                (Width::W64, code::K) => SwapOrder::Swap,
                (Width::W64, _) => return Err(DecodeError::BadField("source bit")),
            };
            zero(i.src, "src")?;
            zero(i.off, "off")?;
            let bits = match i.imm {
                16 => 16,
                32 => 32,
                64 => 64,
                _ => return Err(DecodeError::BadField("imm")),
            };
            return Ok(Op::Swap { order, dst, bits });
        }
        _ => return Err(DecodeError::UnknownOpcode(i.code)),
    };
    if !matches!(op, AluOp::SDiv | AluOp::SMod) {
        zero(i.off, "off")?;
    }
    Ok(Op::Alu {
        width,
        op,
        dst,
        src: operand(i)?,
    })
}

fn decode_jmp(i: Insn) -> Result<Op, DecodeError> {
    let is32 = i.code & class::MASK == class::JMP32;
    let width = if is32 { Width::W32 } else { Width::W64 };
    let cond = match i.code & 0xf0 {
        code::JA => {
            if i.code & code::X != 0 {
                return Err(DecodeError::BadField("source bit"));
            }
            zero(i.dst, "dst")?;
            zero(i.src, "src")?;
            return if is32 {
                zero(i.off, "off")?;
                Ok(Op::Ja {
                    off: i.imm,
                    long: true,
                })
            } else {
                zero(i.imm, "imm")?;
                Ok(Op::Ja {
                    off: i32::from(i.off),
                    long: false,
                })
            };
        }
        code::CALL if !is32 => {
            if i.code & code::X != 0 {
                return Err(DecodeError::BadField("source bit"));
            }
            zero(i.dst, "dst")?;
            zero(i.off, "off")?;
            let target = match i.src {
                0 => CallTarget::Helper(HelperId(i.imm as u32)),
                1 => CallTarget::Local(i.imm),
                2 => CallTarget::Btf(i.imm),
                _ => return Err(DecodeError::BadField("src")),
            };
            return Ok(Op::Call(target));
        }
        code::EXIT if !is32 => {
            if i.code & code::X != 0 {
                return Err(DecodeError::BadField("source bit"));
            }
            zero(i.dst, "dst")?;
            zero(i.src, "src")?;
            zero(i.off, "off")?;
            zero(i.imm, "imm")?;
            return Ok(Op::Exit);
        }
        code::JEQ => JmpCond::Eq,
        code::JGT => JmpCond::Gt,
        code::JGE => JmpCond::Ge,
        code::JSET => JmpCond::Set,
        code::JNE => JmpCond::Ne,
        code::JSGT => JmpCond::Sgt,
        code::JSGE => JmpCond::Sge,
        code::JLT => JmpCond::Lt,
        code::JLE => JmpCond::Le,
        code::JSLT => JmpCond::Slt,
        code::JSLE => JmpCond::Sle,
        _ => return Err(DecodeError::UnknownOpcode(i.code)),
    };
    Ok(Op::Jmp {
        width,
        cond,
        dst: reg(i.dst)?,
        src: operand(i)?,
        off: i.off,
    })
}

fn decode_ld(i: Insn, next: Option<Insn>) -> Result<Op, DecodeError> {
    match i.code & 0xe0 {
        code::ABS | code::IND => return Err(DecodeError::LegacyPacketAccess),
        code::IMM if i.code == code::LDDW => {}
        _ => return Err(DecodeError::UnknownOpcode(i.code)),
    }
    let kind = LoadImmKind::from_src(i.src).ok_or(DecodeError::BadField("src"))?;
    zero(i.off, "off")?;
    let dst = reg(i.dst)?;
    let hi = next.ok_or(DecodeError::TruncatedLddw)?;
    if hi.code != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
        return Err(DecodeError::BadLddwSecondHalf);
    }
    // Only the map-value forms use the second immediate (as an offset); for
    // the others it is unused, so it must be zero (Linux rejects it too).
    // That keeps every form's encoding canonical.
    let uses_hi = matches!(
        kind,
        LoadImmKind::Imm64 | LoadImmKind::MapValue | LoadImmKind::MapValueByIdx
    );
    if !uses_hi && hi.imm != 0 {
        return Err(DecodeError::ReservedField("imm of the second lddw slot"));
    }
    Ok(Op::LoadImm64 {
        kind,
        dst,
        imm_lo: i.imm,
        imm_hi: hi.imm,
    })
}

fn decode_ldx(i: Insn) -> Result<Op, DecodeError> {
    let size = Size::from_code(i.code);
    let signed = match i.code & 0xe0 {
        code::MEM => false,
        code::MEMSX if size != Size::DW => true,
        _ => return Err(DecodeError::UnknownOpcode(i.code)),
    };
    zero(i.imm, "imm")?;
    Ok(Op::Load {
        size,
        signed,
        dst: reg(i.dst)?,
        src: reg(i.src)?,
        off: i.off,
    })
}

fn decode_st(i: Insn) -> Result<Op, DecodeError> {
    if i.code & 0xe0 != code::MEM {
        return Err(DecodeError::UnknownOpcode(i.code));
    }
    zero(i.src, "src")?;
    Ok(Op::Store {
        size: Size::from_code(i.code),
        dst: reg(i.dst)?,
        off: i.off,
        src: Operand::Imm(i.imm),
    })
}

fn decode_stx(i: Insn) -> Result<Op, DecodeError> {
    let size = Size::from_code(i.code);
    match i.code & 0xe0 {
        code::MEM => {
            zero(i.imm, "imm")?;
            Ok(Op::Store {
                size,
                dst: reg(i.dst)?,
                off: i.off,
                src: Operand::Reg(reg(i.src)?),
            })
        }
        code::ATOMIC if matches!(size, Size::W | Size::DW) => {
            let fetch = i.imm & code::FETCH != 0;
            let op = match i.imm {
                code::XCHG => AtomicOp::Xchg,
                code::CMPXCHG => AtomicOp::CmpXchg,
                imm => match (imm & !code::FETCH) as u8 {
                    code::ADD => AtomicOp::Add { fetch },
                    code::OR => AtomicOp::Or { fetch },
                    code::AND => AtomicOp::And { fetch },
                    code::XOR => AtomicOp::Xor { fetch },
                    _ => return Err(DecodeError::BadField("imm")),
                },
            };
            if !matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) && (i.imm & !0xf1) != 0 {
                return Err(DecodeError::BadField("imm"));
            }
            Ok(Op::Atomic {
                size,
                op,
                dst: reg(i.dst)?,
                off: i.off,
                src: reg(i.src)?,
            })
        }
        _ => Err(DecodeError::UnknownOpcode(i.code)),
    }
}

/// A decoding failure at a given instruction slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramError {
    /// The slot where decoding failed.
    pub at: InsnIdx,
    /// What is wrong there.
    pub error: ProgramErrorKind,
}

/// What is wrong with a raw program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramErrorKind {
    /// The byte length is not a multiple of 8; `at` is the partial slot.
    TruncatedInsn {
        /// How many bytes the partial slot has.
        bytes: usize,
    },
    /// The slot does not decode.
    Decode(DecodeError),
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error {
            ProgramErrorKind::TruncatedInsn { bytes } => {
                write!(
                    f,
                    "instruction {}: truncated, only {bytes} of 8 bytes",
                    self.at
                )
            }
            ProgramErrorKind::Decode(e) => write!(f, "instruction {}: {e}", self.at),
        }
    }
}

/// Split raw little-endian bytecode into slots. Fails only on a partial slot.
pub fn slots_from_bytes(bytes: &[u8]) -> Result<alloc::vec::Vec<Insn>, ProgramError> {
    let chunks = bytes.chunks_exact(INSN_SIZE);
    let rest = chunks.remainder().len();
    if rest != 0 {
        return Err(ProgramError {
            at: InsnIdx((bytes.len() / INSN_SIZE) as u32),
            error: ProgramErrorKind::TruncatedInsn { bytes: rest },
        });
    }
    Ok(chunks
        .map(|c| {
            let mut b = [0u8; INSN_SIZE];
            b.copy_from_slice(c);
            Insn::from_bytes(b)
        })
        .collect())
}

/// Serialize slots back to raw little-endian bytecode.
pub fn slots_to_bytes(slots: &[Insn]) -> alloc::vec::Vec<u8> {
    slots.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Decode every instruction of a program, in slot order, with its slot index.
///
/// The second half of an `lddw` is consumed with its first half and is not
/// yielded on its own.
pub fn decode_program(slots: &[Insn]) -> Result<alloc::vec::Vec<(InsnIdx, Op)>, ProgramError> {
    let mut out = alloc::vec::Vec::with_capacity(slots.len());
    let mut pc = 0;
    while pc < slots.len() {
        let op = Op::decode(&slots[pc..]).map_err(|e| ProgramError {
            at: InsnIdx(pc as u32),
            error: ProgramErrorKind::Decode(e),
        })?;
        out.push((InsnIdx(pc as u32), op));
        pc += op.slots();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_bytes_roundtrip() {
        let i = Insn {
            code: 0x61,
            dst: 0,
            src: 1,
            off: -8,
            imm: 0x1234_5678,
        };
        assert_eq!(Insn::from_bytes(i.to_bytes()), i);
        assert_eq!(
            i.to_bytes(),
            [0x61, 0x10, 0xf8, 0xff, 0x78, 0x56, 0x34, 0x12]
        );
    }

    #[test]
    fn every_valid_single_slot_opcode_reencodes_identically() {
        // Exhaustive over opcode bytes and a spread of field values: any slot
        // that decodes must encode back to exactly the same slot.
        let fields = [
            (0u8, 0u8, 0i16, 0i32),
            (1, 2, 1, 1),
            (3, 4, 8, 16),
            (10, 0, 16, 32),
            (2, 9, 32, 64),
            (5, 5, -1, -1),
        ];
        let mut valid = 0;
        for code in 0..=255u8 {
            for &(dst, src, off, imm) in &fields {
                for imm in [imm, 0x01, 0x41, 0xe1, 0xf1, 0x50, 0xa1] {
                    let slot = Insn {
                        code,
                        dst,
                        src,
                        off,
                        imm,
                    };
                    let pair = [
                        slot,
                        Insn {
                            imm: 7,
                            ..Insn::default()
                        },
                    ];
                    if let Ok(op) = Op::decode(&pair) {
                        let (enc, n) = op.encode();
                        assert_eq!(&enc[..n], &pair[..n], "{op:?}");
                        valid += 1;
                    }
                }
            }
        }
        assert!(valid > 500, "only {valid} valid encodings found");
    }

    #[test]
    fn rejects_reserved_fields_and_legacy() {
        let bad = |i: Insn| Op::decode(&[i, Insn::default()]);
        // exit with a nonzero imm
        assert_eq!(
            bad(Insn {
                code: 0x95,
                imm: 1,
                ..Default::default()
            }),
            Err(DecodeError::ReservedField("imm"))
        );
        // add r1, imm with src set
        assert_eq!(
            bad(Insn {
                code: 0x07,
                dst: 1,
                src: 2,
                ..Default::default()
            }),
            Err(DecodeError::ReservedField("src"))
        );
        // ld abs
        assert_eq!(
            bad(Insn {
                code: 0x20,
                ..Default::default()
            }),
            Err(DecodeError::LegacyPacketAccess)
        );
        // r11
        assert_eq!(
            bad(Insn {
                code: 0xb7,
                dst: 11,
                ..Default::default()
            }),
            Err(DecodeError::BadRegister(11))
        );
        // lddw with a dirty second half
        let lddw = Insn {
            code: code::LDDW,
            dst: 1,
            ..Default::default()
        };
        assert_eq!(
            Op::decode(&[
                lddw,
                Insn {
                    code: 1,
                    ..Default::default()
                }
            ]),
            Err(DecodeError::BadLddwSecondHalf)
        );
        assert_eq!(Op::decode(&[lddw]), Err(DecodeError::TruncatedLddw));
        // movsx 32 in 32-bit alu
        assert_eq!(
            bad(Insn {
                code: 0xbc,
                dst: 1,
                src: 2,
                off: 32,
                ..Default::default()
            }),
            Err(DecodeError::BadField("off"))
        );
    }

    #[test]
    fn program_level_errors_carry_the_slot() {
        let bytes = [0x95, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0];
        let err = slots_from_bytes(&bytes).unwrap_err();
        assert_eq!(err.at, InsnIdx(1));
        let slots = slots_from_bytes(&bytes[..8]).unwrap();
        assert_eq!(decode_program(&slots).unwrap(), [(InsnIdx(0), Op::Exit)]);
        let slots = [
            Insn {
                code: 0xb7,
                ..Default::default()
            },
            Insn {
                code: 0xff,
                ..Default::default()
            },
        ];
        let err = decode_program(&slots).unwrap_err();
        assert_eq!(err.at, InsnIdx(1));
        assert_eq!(
            err.error,
            ProgramErrorKind::Decode(DecodeError::UnknownOpcode(0xff))
        );
    }
}
