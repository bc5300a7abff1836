//! Why a program was rejected, as data.
//!
//! A [`Rejection`] carries everything a user needs and nothing that must be
//! recomputed: the stable [`Code`], the instruction (index and raw slots,
//! printed in assembly), a typed [`RejectKind`] whose `Display` says what is
//! wrong in plain words, the abstract state of the registers involved, and
//! the source span from the line table. It is `serde`-serializable so the
//! kernel can send it back over the control channel and the host renders
//! exactly the same message.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::{DecodeError, HelperId, Insn, InsnIdx, MapIdx, Op, Reg};
use capscope_bytecode::object::{MapKind, Span};
use serde::{Deserialize, Serialize};

use crate::value::Value;

/// A stable message code, `V001` to `V08x`. The tens digit is the rule (1 to
/// 9) the program broke, minus one; docs/verifier.md lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Code {
    V001,
    V002,
    V003,
    V004,
    V005,
    V006,
    V007,
    V010,
    V011,
    V020,
    V021,
    V022,
    V023,
    V030,
    V031,
    V032,
    V040,
    V041,
    V042,
    V050,
    V051,
    V052,
    V060,
    V061,
    V062,
    V063,
    V064,
    V070,
    V071,
    V072,
    V073,
    V080,
    V081,
    V082,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Why an instruction's bits are invalid (mirrors `DecodeError`, serializable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum DecodeFault {
    UnknownOpcode(u8),
    BadRegister(u8),
    ReservedField(String),
    BadField(String),
    TruncatedLddw,
    BadLddwSecondHalf,
    LegacyPacketAccess,
}

impl From<DecodeError> for DecodeFault {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::UnknownOpcode(c) => DecodeFault::UnknownOpcode(c),
            DecodeError::BadRegister(r) => DecodeFault::BadRegister(r),
            DecodeError::ReservedField(f) => DecodeFault::ReservedField(f.into()),
            DecodeError::BadField(f) => DecodeFault::BadField(f.into()),
            DecodeError::TruncatedLddw => DecodeFault::TruncatedLddw,
            DecodeError::BadLddwSecondHalf => DecodeFault::BadLddwSecondHalf,
            DecodeError::LegacyPacketAccess => DecodeFault::LegacyPacketAccess,
        }
    }
}

impl fmt::Display for DecodeFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeFault::UnknownOpcode(c) => write!(f, "unknown opcode {c:#04x}"),
            DecodeFault::BadRegister(r) => write!(f, "register r{r} does not exist (r0-r10)"),
            DecodeFault::ReservedField(x) => write!(f, "field `{x}` must be zero for this opcode"),
            DecodeFault::BadField(x) => write!(f, "invalid value in field `{x}` for this opcode"),
            DecodeFault::TruncatedLddw => f.write_str("lddw in the last slot has no second half"),
            DecodeFault::BadLddwSecondHalf => {
                f.write_str("the second half of an lddw must be zero except for its immediate")
            }
            DecodeFault::LegacyPacketAccess => {
                f.write_str("legacy packet access (ABS/IND) is not supported")
            }
        }
    }
}

/// Where a memory access went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Region {
    /// The stack.
    Stack,
    /// A map value.
    MapValue,
    /// The context.
    Ctx,
}

/// What kind of helper argument was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ArgKind {
    Scalar,
    Map,
    MapKey,
    MapValue,
    Ctx,
    ReadMem,
    WriteMem,
    Size,
}

impl fmt::Display for ArgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArgKind::Scalar => "a number",
            ArgKind::Map => "a map (`rX = map[N] ll`)",
            ArgKind::MapKey => "a pointer to the key (on the stack or in a map value)",
            ArgKind::MapValue => "a pointer to the value (on the stack or in a map value)",
            ArgKind::Ctx => "the context pointer the program received in r1",
            ArgKind::ReadMem => "a pointer to the bytes to read",
            ArgKind::WriteMem => "a pointer to a buffer on the stack or in a map value",
            ArgKind::Size => "the size of the preceding buffer",
        })
    }
}

/// What is wrong, typed. `Display` says it in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RejectKind {
    // rule 1
    Decode(DecodeFault),
    EmptyProgram,
    TooLong {
        slots: u32,
        max: u32,
    },
    JumpOutOfRange {
        target: i64,
        len: u32,
    },
    JumpIntoLddw {
        target: u32,
    },
    FallsOffEnd,
    UnknownMap {
        map: u32,
        count: u32,
    },
    UnknownHelper {
        id: u32,
    },
    LocalCall,
    BtfCall,
    UnsupportedLddw {
        src: u8,
    },
    // rule 2
    UninitRegister {
        reg: Reg,
        clobbered_by: Option<InsnIdx>,
    },
    WriteFp,
    // rule 3
    OutOfBounds {
        region: Region,
        lo: i64,
        hi: i64,
        size: u32,
    },
    UninitStack {
        offset: i32,
        helper: Option<HelperId>,
    },
    VarOffsetPointerSpill,
    MisalignedAtomic {
        size: u32,
    },
    // rule 4
    CtxWrite,
    CtxField {
        offset: i64,
        size: u32,
        point: AttachPoint,
    },
    CtxArith,
    // rule 5
    MaybeNull {
        reg: Reg,
    },
    MapPtrUse {
        reg: Reg,
    },
    // rule 6
    UnboundedArith {
        reg: Reg,
    },
    PointerAlu {
        reg: Reg,
    },
    NotAPointer {
        reg: Reg,
    },
    // rule 7
    StorePointer {
        region: Region,
    },
    ReturnPointer,
    PointerCompare {
        reg: Reg,
    },
    PointerBitsUse {
        reg: Reg,
    },
    AtomicOnPointer,
    HelperLeak {
        helper: HelperId,
        arg: u8,
    },
    // rule 8
    HelperArg {
        helper: HelperId,
        arg: u8,
        expected: ArgKind,
    },
    HelperMapKind {
        helper: HelperId,
        map: MapIdx,
        kind: MapKind,
    },
    HelperSize {
        helper: HelperId,
        arg: u8,
        min: u64,
        max: u64,
        room: u64,
    },
    HelperCtxOffset {
        helper: HelperId,
        off: i64,
    },
    HelperUninitMem {
        helper: HelperId,
        arg: u8,
        offset: i32,
    },
    HelperMemTooSmall {
        helper: HelperId,
        arg: u8,
        need: u64,
        room: u64,
    },
    // rule 9
    InfiniteLoop {
        head: InsnIdx,
    },
    PathTooLong {
        limit: u64,
        head: Option<InsnIdx>,
    },
    Budget {
        processed: u64,
    },
}

impl RejectKind {
    /// The stable code of this kind of rejection.
    pub fn code(&self) -> Code {
        use RejectKind::*;
        match self {
            Decode(_) => Code::V001,
            EmptyProgram | TooLong { .. } => Code::V007,
            JumpOutOfRange { .. } | JumpIntoLddw { .. } => Code::V002,
            FallsOffEnd => Code::V003,
            UnknownMap { .. } => Code::V004,
            UnknownHelper { .. } | LocalCall | BtfCall => Code::V005,
            UnsupportedLddw { .. } => Code::V006,
            UninitRegister { .. } => Code::V010,
            WriteFp => Code::V011,
            OutOfBounds {
                region: Region::Stack,
                ..
            } => Code::V020,
            UninitStack { .. } | HelperUninitMem { .. } => Code::V021,
            VarOffsetPointerSpill => Code::V022,
            MisalignedAtomic { .. } => Code::V023,
            CtxWrite => Code::V030,
            CtxField { .. }
            | OutOfBounds {
                region: Region::Ctx,
                ..
            } => Code::V031,
            CtxArith => Code::V032,
            MaybeNull { .. } => Code::V040,
            OutOfBounds {
                region: Region::MapValue,
                ..
            } => Code::V041,
            MapPtrUse { .. } => Code::V042,
            UnboundedArith { .. } => Code::V050,
            PointerAlu { .. } => Code::V051,
            NotAPointer { .. } => Code::V052,
            StorePointer { .. } => Code::V060,
            ReturnPointer => Code::V061,
            PointerCompare { .. } => Code::V062,
            PointerBitsUse { .. } | AtomicOnPointer => Code::V063,
            HelperLeak { .. } => Code::V064,
            HelperArg { .. } => Code::V070,
            HelperMapKind { .. } => Code::V071,
            HelperSize { .. } => Code::V072,
            HelperCtxOffset { .. } => Code::V073,
            HelperMemTooSmall { .. } => Code::V072,
            InfiniteLoop { .. } => Code::V080,
            PathTooLong { .. } => Code::V081,
            Budget { .. } => Code::V082,
        }
    }
}

fn helper_name(id: HelperId) -> &'static str {
    capscope_bytecode::abi::helpers::find(id).map_or("unknown helper", |h| h.name)
}

fn region_name(r: Region) -> &'static str {
    match r {
        Region::Stack => "the stack",
        Region::MapValue => "the map value",
        Region::Ctx => "the context",
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RejectKind::*;
        match self {
            Decode(e) => write!(f, "invalid instruction: {e}"),
            EmptyProgram => f.write_str("the program has no instructions"),
            TooLong { slots, max } => {
                write!(
                    f,
                    "the program has {slots} instruction slots; at most {max} are allowed"
                )
            }
            JumpOutOfRange { target, len } => write!(
                f,
                "jump to instruction {target}, outside the program (instructions 0 to {})",
                i64::from(*len) - 1
            ),
            JumpIntoLddw { target } => write!(
                f,
                "jump into instruction {target}, the second half of a 64-bit immediate load"
            ),
            FallsOffEnd => f.write_str(
                "execution can run past the last instruction; every path must end with `exit`",
            ),
            UnknownMap { map, count } => write!(
                f,
                "map {map} does not exist: the object defines {count} map(s), numbered from 0"
            ),
            UnknownHelper { id } => write!(f, "there is no helper number {id}"),
            LocalCall => {
                f.write_str("calls to local functions (bpf-to-bpf calls) are not supported")
            }
            BtfCall => f.write_str("calls by BTF id (kfuncs) are not supported"),
            UnsupportedLddw { src } => write!(
                f,
                "64-bit immediate loads with src={src} are not supported; only constants (src=0) and maps (src=1)"
            ),
            UninitRegister { reg, clobbered_by } => match clobbered_by {
                Some(call) => write!(
                    f,
                    "{reg} is read but holds nothing: the helper call at instruction {call} clobbered it (calls overwrite r1-r5; keep values in r6-r9 or on the stack)"
                ),
                None => write!(f, "{reg} is read before it is written on some path"),
            },
            WriteFp => f.write_str("r10, the frame pointer, is read-only"),
            OutOfBounds {
                region,
                lo,
                hi,
                size,
            } => match region {
                Region::Stack => write!(
                    f,
                    "stack access to bytes fp{lo:+} to fp{:+} lies outside the 512-byte stack (fp-512 to fp-1)",
                    hi - 1
                ),
                Region::MapValue => write!(
                    f,
                    "map value access to bytes {lo} to {} may fall outside the {size}-byte value; bound the offset (e.g. `if rX > N goto`, or `rX &= MASK`) before adding it",
                    hi - 1
                ),
                Region::Ctx => write!(f, "context access at offset {lo} is outside the context"),
            },
            UninitStack { offset, helper } => match helper {
                Some(h) => write!(
                    f,
                    "{} reads stack byte fp{offset}, which may not have been written on every path",
                    helper_name(*h)
                ),
                None => write!(
                    f,
                    "reads stack byte fp{offset}, which may not have been written on every path"
                ),
            },
            VarOffsetPointerSpill => {
                f.write_str("a pointer can only be stored to the stack at a constant offset")
            }
            MisalignedAtomic { size } => write!(
                f,
                "an atomic {size}-byte access must be aligned to {size} bytes (a split lock can fault in the kernel)"
            ),
            CtxWrite => f.write_str("the context is read-only"),
            CtxField {
                offset,
                size,
                point,
            } => write!(
                f,
                "no {size}-byte field of the {point} context starts at offset {offset} (`capscope list -v` shows the fields)"
            ),
            CtxArith => f.write_str("only constants may be added to the context pointer"),
            MaybeNull { reg } => write!(
                f,
                "{reg} may be null: check the map_lookup_elem result against 0 before using it"
            ),
            MapPtrUse { reg } => write!(
                f,
                "{reg} is a map; a map can only be passed to helpers, not read, written or changed"
            ),
            UnboundedArith { reg } => write!(
                f,
                "the value added to the pointer in {reg} is not bounded; compare it against a limit or mask it first"
            ),
            PointerAlu { reg } => write!(
                f,
                "{reg} holds a pointer; only adding or subtracting a bounded number is allowed on pointers (64-bit only)"
            ),
            NotAPointer { reg } => {
                write!(f, "{reg} is used as a memory address but holds no pointer")
            }
            StorePointer { region } => write!(
                f,
                "a pointer must not be stored to {}: kernel addresses must not leave the program",
                region_name(*region)
            ),
            ReturnPointer => {
                f.write_str("r0 holds a pointer at exit; the return value must be a number")
            }
            PointerCompare { reg } => write!(
                f,
                "{reg} holds a pointer; pointers may only be compared with 0 (a null check) or with a pointer into the same region"
            ),
            PointerBitsUse { reg } => write!(
                f,
                "{reg} may hold a pointer or bits of one (a partial read of a spilled pointer, or a pointer on some paths): it may only be moved or stored to the stack"
            ),
            AtomicOnPointer => {
                f.write_str("an atomic operation would change stack bytes that may hold a pointer")
            }
            HelperLeak { helper, arg } => write!(
                f,
                "argument {arg} of {} would export pointer bits; kernel addresses must not leave the program",
                helper_name(*helper)
            ),
            HelperArg {
                helper,
                arg,
                expected,
            } => write!(
                f,
                "argument {arg} of {} must be {expected}",
                helper_name(*helper)
            ),
            HelperMapKind { helper, map, kind } => write!(
                f,
                "{} does not accept map {map}, a {kind} map",
                helper_name(*helper)
            ),
            HelperSize {
                helper,
                arg,
                min,
                max,
                room,
            } => write!(
                f,
                "argument {arg} of {} is a size between {min} and {max}; it must be at least 1 and at most {room}, the bytes available at the pointer",
                helper_name(*helper)
            ),
            HelperCtxOffset { helper, off } => write!(
                f,
                "{} needs the context pointer itself, not the context plus {off}",
                helper_name(*helper)
            ),
            HelperUninitMem {
                helper,
                arg,
                offset,
            } => write!(
                f,
                "argument {arg} of {} points at stack byte fp{offset}, which may not have been written",
                helper_name(*helper)
            ),
            HelperMemTooSmall {
                helper,
                arg,
                need,
                room,
            } => write!(
                f,
                "argument {arg} of {} must point at {need} bytes, but only {room} are available there",
                helper_name(*helper)
            ),
            InfiniteLoop { head } => write!(
                f,
                "infinite loop: after an iteration of the loop at instruction {head} the state is exactly what it was, so it can repeat forever"
            ),
            PathTooLong { limit, head } => match head {
                Some(h) => write!(
                    f,
                    "a path may execute more than {limit} instructions: the loop at instruction {h} could not be bounded; give it a constant bound"
                ),
                None => write!(f, "a path may execute more than {limit} instructions"),
            },
            Budget { processed } => write!(
                f,
                "verification gave up after {processed} analysis steps; simplify the program (fewer nested loops or branches)"
            ),
        }
    }
}

/// The registers an instruction involves, with their abstract values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDump {
    /// Registers in ascending order.
    pub regs: Vec<(Reg, Value)>,
}

impl fmt::Display for RegisterDump {
    /// `R1=ctx R2=map_value(off=8,size=8) R10=fp`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (r, v)) in self.regs.iter().enumerate() {
            if n > 0 {
                f.write_str(" ")?;
            }
            write!(f, "R{}={v}", r.index())?;
        }
        Ok(())
    }
}

/// A rejected program: where, what, and the state that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable code.
    pub code: Code,
    /// The instruction slot.
    pub insn: InsnIdx,
    /// The instruction's slots (two for an `lddw`; empty if the rejection
    /// concerns no single instruction).
    pub slots: Vec<Insn>,
    /// What is wrong.
    pub kind: RejectKind,
    /// The registers involved and their abstract values.
    pub state: RegisterDump,
    /// The script span the instruction came from, if the line table says.
    pub span: Option<Span>,
}

impl Rejection {
    /// The instruction in assembly, if its slots decode.
    pub fn asm(&self) -> Option<String> {
        let op = Op::decode(&self.slots).ok()?;
        Some(alloc::format!("{op}"))
    }

    /// One line: `V041 at instruction 7 (r1 = *(u64 *)(r0 + 8)): what`.
    pub fn headline(&self) -> String {
        match self.asm() {
            Some(a) => alloc::format!(
                "{} at instruction {} (`{a}`): {}",
                self.code,
                self.insn,
                self.kind
            ),
            None => alloc::format!("{} at instruction {}: {}", self.code, self.insn, self.kind),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if !self.state.regs.is_empty() {
            write!(f, "\n  state: {}", self.state)?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
impl std::error::Error for Rejection {}
