//! Random programs for differential testing: every register and the stack
//! data area are initialized first, the body mixes every instruction kind
//! with forward jumps between whole units, helper snippets update a hash
//! map and write ring-buffer records, and the epilogue folds all registers
//! and stack words into r0 so any difference shows in the result.

use capscope_bytecode::abi::helpers::id;
use capscope_bytecode::insn::{
    AluOp, AtomicOp, CallTarget, JmpCond, LoadImmKind, Op, Operand, Reg, Size, SwapOrder, Width,
};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use proptest::prelude::*;

use super::{lddw, r, slots};

/// Stack words the program computes with: fp-8 ... fp-64.
const DATA_WORDS: i16 = 8;
/// Scratch words the snippets use: key, saved r0, value.
const KEY: i16 = -72;
const SAVED_R0: i16 = -80;
const VALUE: i16 = -88;

/// The maps every generated program gets: a 4-entry hash (so it fills up
/// and drops) and a ring buffer.
pub fn maps() -> Vec<MapDef> {
    let def = |name: &str, kind, key, value, max| MapDef {
        name: String::from(name),
        kind,
        key_size: key,
        value_size: value,
        max_entries: max,
        display: MapDisplay::default(),
    };
    vec![
        def("@h", MapKind::Hash, 8, 8, 4),
        def("@rb", MapKind::RingBuf, 0, 0, 4096),
    ]
}

fn edge_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(i64::MIN as u64),
        Just(i64::MAX as u64),
        Just(0xffff_ffff),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        Just(0xffff_ffff_8000_0000),
        0u64..64,
        any::<u64>(),
    ]
}

fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0i32),
        Just(1),
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        -70i32..70,
        any::<i32>(),
    ]
}

/// r0-r9 (never r10, which is read-only).
fn dst() -> impl Strategy<Value = Reg> {
    (0u8..10).prop_map(r)
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![dst().prop_map(Operand::Reg), imm().prop_map(Operand::Imm)]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Mod, SMod, Xor, Mov, Arsh,
    ])
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// An offset into the data words, aligned for `size`.
fn data_offset(size: Size) -> impl Strategy<Value = i16> {
    let n = size.bytes() as i16;
    (1..=(DATA_WORDS * 8 / n)).prop_map(move |i| -i * n)
}

/// One unit: a single instruction or a snippet that must not be entered in
/// the middle. A jump is a placeholder resolved once all units exist.
#[derive(Clone, Debug)]
pub enum Unit {
    Ops(Vec<Op>),
    /// Conditional jump over `skip` following units.
    Jump {
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        skip: usize,
    },
    /// Unconditional jump over `skip` units (`long` for gotol).
    Ja {
        skip: usize,
        long: bool,
    },
}

fn cond() -> impl Strategy<Value = JmpCond> {
    use JmpCond::*;
    prop::sample::select(vec![Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle])
}

fn single() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (width(), alu_op(), dst(), operand())
            .prop_map(|(width, op, dst, src)| Op::Alu { width, op, dst, src }),
        1 => (width(), dst()).prop_map(|(width, dst)| Op::Neg { width, dst }),
        1 => (width(), dst(), dst(), prop::sample::select(vec![8u8, 16, 32]))
            .prop_map(|(width, dst, src, bits)| Op::MovSx {
                width,
                dst,
                src,
                // 32-bit MOVSX only exists from 8 or 16 bits.
                bits: if width == Width::W32 && bits == 32 { 16 } else { bits },
            }),
        1 => (
            prop_oneof![Just(SwapOrder::ToLe), Just(SwapOrder::ToBe), Just(SwapOrder::Swap)],
            dst(),
            prop::sample::select(vec![16u8, 32, 64]),
        )
            .prop_map(|(order, dst, bits)| Op::Swap { order, dst, bits }),
        1 => (dst(), edge_value()).prop_map(|(d, v)| lddw(d.number(), v)),
        2 => size()
            .prop_flat_map(|s| (Just(s), any::<bool>(), dst(), data_offset(s)))
            .prop_map(|(size, signed, dst, off)| Op::Load {
                size,
                signed: signed && size != Size::DW,
                dst,
                src: Reg::FP,
                off,
            }),
        2 => size()
            .prop_flat_map(|s| (Just(s), data_offset(s), operand()))
            .prop_map(|(size, off, src)| Op::Store { size, dst: Reg::FP, off, src }),
        1 => prop_oneof![Just(Size::W), Just(Size::DW)]
            .prop_flat_map(|s| (Just(s), data_offset(s), dst(), 0u8..6, any::<bool>()))
            .prop_map(|(size, off, src, kind, fetch)| {
                let op = match kind {
                    0 => AtomicOp::Add { fetch },
                    1 => AtomicOp::Or { fetch },
                    2 => AtomicOp::And { fetch },
                    3 => AtomicOp::Xor { fetch },
                    4 => AtomicOp::Xchg,
                    _ => AtomicOp::CmpXchg,
                };
                Op::Atomic { size, op, dst: Reg::FP, off, src }
            }),
    ]
}

fn map(dst: u8, idx: u32) -> Op {
    Op::LoadImm64 {
        kind: LoadImmKind::Map,
        dst: r(dst),
        imm_lo: idx as i32,
        imm_hi: 0,
    }
}

fn mov(dst: u8, src: Operand) -> Op {
    Op::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(dst),
        src,
    }
}

fn add(dst: u8, k: i32) -> Op {
    Op::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: r(dst),
        src: Operand::Imm(k),
    }
}

fn call(h: capscope_bytecode::insn::HelperId) -> Op {
    Op::Call(CallTarget::Helper(h))
}

/// Refill r1-r5 after a call (reading them would trap in the interpreter).
fn refill_args(seed: i32) -> Vec<Op> {
    (1..=5)
        .map(|i| mov(i, Operand::Imm(seed.wrapping_mul(i32::from(i)))))
        .collect()
}

/// `@h[key & 7] += value` (insert on a miss), keeping r0. `value` is one
/// of r6-r9, which calls preserve.
fn count_snippet(key: Reg, value: u8) -> Vec<Op> {
    let mut ops = vec![
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: SAVED_R0,
            src: Operand::Reg(r(0)),
        },
        mov(1, Operand::Reg(key)),
        Op::Alu {
            width: Width::W64,
            op: AluOp::And,
            dst: r(1),
            src: Operand::Imm(7),
        },
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: KEY,
            src: Operand::Reg(r(1)),
        },
        map(1, 0),
        mov(2, Operand::Reg(Reg::FP)),
        add(2, i32::from(KEY)),
        call(id::MAP_LOOKUP_ELEM),
        // miss: skip the 3 slots of the hit path
        Op::Jmp {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: r(0),
            src: Operand::Imm(0),
            off: 3,
        },
        mov(1, Operand::Reg(r(value))),
        Op::Atomic {
            size: Size::DW,
            op: AtomicOp::Add { fetch: false },
            dst: r(0),
            off: 0,
            src: r(1),
        },
        // hit: skip the 10 slots of the miss path
        Op::Ja {
            off: 10,
            long: false,
        },
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: VALUE,
            src: Operand::Reg(r(value)),
        },
        map(1, 0),
        mov(2, Operand::Reg(Reg::FP)),
        add(2, i32::from(KEY)),
        mov(3, Operand::Reg(Reg::FP)),
        add(3, i32::from(VALUE)),
        mov(4, Operand::Imm(0)),
        call(id::MAP_UPDATE_ELEM),
        // Keep the update's result (0 or -E2BIG) observable.
        Op::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: r(value),
            src: Operand::Reg(r(0)),
        },
        Op::Load {
            size: Size::DW,
            signed: false,
            dst: r(0),
            src: Reg::FP,
            off: SAVED_R0,
        },
    ];
    ops.extend(refill_args(i32::from(value)));
    ops
}

/// Append `len` bytes of the data words to the ring buffer.
fn ringbuf_snippet(len: i32, value: u8) -> Vec<Op> {
    let mut ops = vec![
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: SAVED_R0,
            src: Operand::Reg(r(0)),
        },
        map(1, 1),
        mov(2, Operand::Reg(Reg::FP)),
        add(2, -i32::from(DATA_WORDS * 8)),
        mov(3, Operand::Imm(len)),
        mov(4, Operand::Imm(0)),
        call(id::RINGBUF_OUTPUT),
        Op::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: r(value),
            src: Operand::Reg(r(0)),
        },
        Op::Load {
            size: Size::DW,
            signed: false,
            dst: r(0),
            src: Reg::FP,
            off: SAVED_R0,
        },
    ];
    ops.extend(refill_args(len));
    ops
}

/// A helper without arguments; its result lands in r0.
fn plain_call_snippet(which: u8, value: u8) -> Vec<Op> {
    let h = match which {
        0 => id::KTIME_GET_NS,
        1 => id::GET_SMP_PROCESSOR_ID,
        _ => id::GET_CURRENT_PID_TGID,
    };
    let mut ops = vec![
        call(h),
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r(value),
            src: Operand::Reg(r(0)),
        },
    ];
    ops.extend(refill_args(i32::from(which) + 3));
    ops
}

fn unit(helpers: bool) -> impl Strategy<Value = Unit> {
    let jumps = prop_oneof![
        3 => (width(), cond(), dst(), operand(), 0usize..6)
            .prop_map(|(width, cond, dst, src, skip)| Unit::Jump { width, cond, dst, src, skip }),
        1 => (0usize..4, any::<bool>()).prop_map(|(skip, long)| Unit::Ja { skip, long }),
    ];
    let snippets = prop_oneof![
        (dst(), 6u8..10).prop_map(|(k, v)| Unit::Ops(count_snippet(k, v))),
        (prop::sample::select(vec![8i32, 16, 64]), 6u8..10)
            .prop_map(|(len, v)| Unit::Ops(ringbuf_snippet(len, v))),
        (0u8..3, 6u8..10).prop_map(|(w, v)| Unit::Ops(plain_call_snippet(w, v))),
    ];
    let helper_weight = if helpers { 1 } else { 0 };
    prop_oneof![
        12 => single().prop_map(|op| Unit::Ops(vec![op])),
        3 => jumps,
        helper_weight => snippets,
    ]
}

/// A random program as ops: prologue, `len` body units, epilogue.
pub fn program(len: usize, helpers: bool) -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(edge_value(), 10),
        prop::collection::vec(unit(helpers), 1..=len),
    )
        .prop_map(|(init, units)| assemble(&init, &units))
}

/// Lay out the units and resolve their jumps to slot offsets.
pub fn assemble(init: &[u64], units: &[Unit]) -> Vec<Op> {
    let mut ops: Vec<Op> = init
        .iter()
        .enumerate()
        .map(|(i, &v)| lddw(i as u8, v))
        .collect();
    for w in 1..=DATA_WORDS {
        let src = r((w % 10) as u8);
        ops.push(Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -8 * w,
            src: Operand::Reg(src),
        });
    }
    let base: usize = slots(&ops).len();
    // Slot where each unit starts, plus the epilogue's start.
    let mut starts = Vec::with_capacity(units.len() + 1);
    let mut at = base;
    for u in units {
        starts.push(at);
        at += match u {
            Unit::Ops(v) => slots(v).len(),
            _ => 1,
        };
    }
    starts.push(at);
    let target = |i: usize, skip: usize| starts[(i + 1 + skip).min(units.len())];
    for (i, u) in units.iter().enumerate() {
        match *u {
            Unit::Ops(ref v) => ops.extend(v.iter().copied()),
            Unit::Jump {
                width,
                cond,
                dst,
                src,
                skip,
            } => {
                let off = (target(i, skip) - starts[i] - 1) as i16;
                ops.push(Op::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off,
                });
            }
            Unit::Ja { skip, long } => {
                let off = (target(i, skip) - starts[i] - 1) as i32;
                ops.push(Op::Ja { off, long });
            }
        }
    }
    // Epilogue: fold r1-r9 and the data words into r0.
    let fold = |ops: &mut Vec<Op>, reg: u8| {
        ops.push(Op::Alu {
            width: Width::W64,
            op: AluOp::Mul,
            dst: r(0),
            src: Operand::Imm(31),
        });
        ops.push(Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r(0),
            src: Operand::Reg(r(reg)),
        });
    };
    for i in 1..=9 {
        fold(&mut ops, i);
    }
    for w in 1..=DATA_WORDS {
        ops.push(Op::Load {
            size: Size::DW,
            signed: false,
            dst: r(1),
            src: Reg::FP,
            off: -8 * w,
        });
        fold(&mut ops, 1);
    }
    ops.push(Op::Exit);
    ops
}
