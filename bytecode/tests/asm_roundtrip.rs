//! Disassembling and reassembling reproduces every valid slot exactly.
//!
//! (a) an exhaustive sweep over all opcode bytes and a spread of field
//! values, extremes included; (b) a property test over random valid
//! programs; (c) the assembler never panics, whatever the text.

use capscope_bytecode::asm::{assemble, assemble_all_errors, disassemble};
use capscope_bytecode::insn::{
    AluOp, AtomicOp, CallTarget, HelperId, Insn, JmpCond, LoadImmKind, Op, Operand, Reg, Size,
    SwapOrder, Width,
};
use proptest::prelude::*;

const REGS: [u8; 6] = [0, 1, 5, 10, 11, 15];
const OFFS: [i16; 10] = [0, 1, -1, 8, 16, 32, -8, 0x7ff, i16::MIN, i16::MAX];
/// Extremes, swap widths, and every atomic operation code with and without
/// the fetch bit, so that each opcode meets the values that make it valid.
const IMMS: [i32; 21] = [
    0,
    1,
    -1,
    i32::MIN,
    i32::MAX,
    8,
    16,
    32,
    64,
    0x40,
    0x41,
    0x50,
    0x51,
    0xa0,
    0xa1,
    0xe1,
    0xf1,
    0x123_4567,
    -0x8000,
    0x8000_0000u32 as i32,
    130,
];
/// Second halves of an lddw: clean ones with various immediates, and dirty
/// ones that must be rejected (and so never reach the assembler).
const SECOND: [Insn; 6] = [
    Insn {
        code: 0,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    },
    Insn {
        code: 0,
        dst: 0,
        src: 0,
        off: 0,
        imm: -1,
    },
    Insn {
        code: 0,
        dst: 0,
        src: 0,
        off: 0,
        imm: i32::MIN,
    },
    Insn {
        code: 0,
        dst: 0,
        src: 0,
        off: 0,
        imm: 8,
    },
    Insn {
        code: 0,
        dst: 1,
        src: 0,
        off: 0,
        imm: 0,
    },
    Insn {
        code: 0x18,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    },
];

fn roundtrip_one(slots: &[Insn]) -> Option<usize> {
    let op = Op::decode(slots).ok()?;
    let n = op.slots();
    let text = op.to_string();
    let back = match assemble(&text) {
        Ok(back) => back,
        Err(e) => panic!("`{text}` (from {:?}) does not assemble: {e}", &slots[..n]),
    };
    assert_eq!(back, &slots[..n], "`{text}` reassembles differently");
    Some(n)
}

#[test]
fn every_decodable_slot_round_trips() {
    let mut valid = 0usize;
    let mut program = Vec::new();
    for code in 0..=255u8 {
        for dst in REGS {
            for src in REGS {
                for off in OFFS {
                    for imm in IMMS {
                        let first = Insn {
                            code,
                            dst,
                            src,
                            off,
                            imm,
                        };
                        let seconds: &[Insn] = if code == 0x18 { &SECOND } else { &SECOND[..1] };
                        for &second in seconds {
                            let slots = [first, second];
                            if let Some(n) = roundtrip_one(&slots) {
                                valid += 1;
                                // Keep a sample for the whole-program check.
                                if valid.is_multiple_of(7) {
                                    program.extend_from_slice(&slots[..n]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Every class contributes; a collapse in validity would show here.
    assert!(valid > 30_000, "only {valid} valid slots");
    let text = disassemble(&program).expect("the sample decodes");
    assert_eq!(assemble(&text).expect("the sample assembles"), program);
}

#[test]
fn every_opcode_byte_is_either_rejected_or_printed() {
    // Opcodes that decode for some field values: the full RFC 9669 set.
    let mut opcodes = Vec::new();
    for code in 0..=255u8 {
        let decodes = REGS.iter().any(|&dst| {
            REGS.iter().any(|&src| {
                OFFS.iter().any(|&off| {
                    IMMS.iter().any(|&imm| {
                        Op::decode(&[
                            Insn {
                                code,
                                dst,
                                src,
                                off,
                                imm,
                            },
                            Insn::default(),
                        ])
                        .is_ok()
                    })
                })
            })
        });
        if decodes {
            opcodes.push(code);
        }
    }
    // ALU and ALU64: 12 two-operand ops x 2 sources x 2 classes, NEG x 2,
    // END x 3 (le, be, bswap) = 53; JMP: 11 conditions x 2 sources + ja +
    // call + exit = 25; JMP32: 22 + gotol = 23; LDX: 4 MEM + 3 MEMSX = 7;
    // ST: 4; STX: 4 MEM + 2 ATOMIC = 6; LD: lddw alone (no ABS/IND).
    assert_eq!(opcodes.len(), 53 + 25 + 23 + 7 + 4 + 6 + 1, "{opcodes:x?}");
}

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).expect("0..=10 are registers"))
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), -64i32..64, Just(i32::MIN), Just(i32::MAX)]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![reg().prop_map(Operand::Reg), imm().prop_map(Operand::Imm)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    proptest::sample::select(vec![
        Add, Sub, Mul, Div, SDiv, Or, And, Lsh, Rsh, Mod, SMod, Xor, Mov, Arsh,
    ])
}

fn cond() -> impl Strategy<Value = JmpCond> {
    use JmpCond::*;
    proptest::sample::select(vec![Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle])
}

fn atomic_op() -> impl Strategy<Value = AtomicOp> {
    (0u8..6, any::<bool>()).prop_map(|(k, fetch)| match k {
        0 => AtomicOp::Add { fetch },
        1 => AtomicOp::Or { fetch },
        2 => AtomicOp::And { fetch },
        3 => AtomicOp::Xor { fetch },
        4 => AtomicOp::Xchg,
        _ => AtomicOp::CmpXchg,
    })
}

fn load_kind() -> impl Strategy<Value = LoadImmKind> {
    use LoadImmKind::*;
    proptest::sample::select(vec![
        Imm64,
        Map,
        MapValue,
        VarAddr,
        CodeAddr,
        MapByIdx,
        MapValueByIdx,
    ])
}

/// Any `Op`; combinations the encoding cannot express (a 32-bit `movsx`
/// from 32 bits, an 8-bit atomic, ...) are filtered out below by asking the
/// decoder, the one authority on validity.
fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (width(), alu_op(), reg(), operand()).prop_map(|(width, op, dst, src)| Op::Alu {
            width,
            op,
            dst,
            src
        }),
        (width(), reg()).prop_map(|(width, dst)| Op::Neg { width, dst }),
        (
            width(),
            reg(),
            reg(),
            proptest::sample::select(vec![8u8, 16, 32])
        )
            .prop_map(|(width, dst, src, bits)| Op::MovSx {
                width,
                dst,
                src,
                bits
            }),
        (
            proptest::sample::select(vec![SwapOrder::ToLe, SwapOrder::ToBe, SwapOrder::Swap]),
            reg(),
            proptest::sample::select(vec![16u8, 32, 64])
        )
            .prop_map(|(order, dst, bits)| Op::Swap { order, dst, bits }),
        (load_kind(), reg(), imm(), imm()).prop_map(|(kind, dst, imm_lo, imm_hi)| {
            Op::LoadImm64 {
                kind,
                dst,
                imm_lo,
                imm_hi,
            }
        }),
        (size(), any::<bool>(), reg(), reg(), any::<i16>()).prop_map(
            |(size, signed, dst, src, off)| Op::Load {
                size,
                signed,
                dst,
                src,
                off
            }
        ),
        (size(), reg(), any::<i16>(), operand()).prop_map(|(size, dst, off, src)| Op::Store {
            size,
            dst,
            off,
            src
        }),
        (size(), atomic_op(), reg(), any::<i16>(), reg()).prop_map(|(size, op, dst, off, src)| {
            Op::Atomic {
                size,
                op,
                dst,
                off,
                src,
            }
        }),
        any::<i16>().prop_map(|off| Op::Ja {
            off: i32::from(off),
            long: false
        }),
        imm().prop_map(|off| Op::Ja { off, long: true }),
        (width(), cond(), reg(), operand(), any::<i16>()).prop_map(
            |(width, cond, dst, src, off)| Op::Jmp {
                width,
                cond,
                dst,
                src,
                off
            }
        ),
        prop_oneof![
            prop_oneof![any::<u32>(), 0u32..200].prop_map(|n| CallTarget::Helper(HelperId(n))),
            imm().prop_map(CallTarget::Local),
            imm().prop_map(CallTarget::Btf),
        ]
        .prop_map(Op::Call),
        Just(Op::Exit),
    ]
    .prop_filter("encodable", |op| {
        let (slots, n) = op.encode();
        Op::decode(&slots[..n]).as_ref() == Ok(op)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_round_trip(ops in proptest::collection::vec(any_op(), 1..48)) {
        let mut slots = Vec::new();
        for op in &ops {
            let (enc, n) = op.encode();
            slots.extend_from_slice(&enc[..n]);
        }
        let text = disassemble(&slots).expect("encoded ops decode");
        let back = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &slots);
        // The text is canonical: printing the reassembled program gives it back.
        prop_assert_eq!(disassemble(&back).expect("decodes"), text);
    }

    #[test]
    fn assembler_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = assemble_all_errors(&text);
    }

    #[test]
    fn assembler_never_panics_on_damaged_programs(
        ops in proptest::collection::vec(any_op(), 1..8),
        cut in any::<proptest::sample::Index>(),
        insert in "[-+*()=<>&|^%/sSrRwWxX0-9a-z_#:;,\\[\\] ]{0,4}",
    ) {
        let mut slots = Vec::new();
        for op in &ops {
            let (enc, n) = op.encode();
            slots.extend_from_slice(&enc[..n]);
        }
        let text = disassemble(&slots).expect("encoded ops decode");
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let damaged = format!("{}{insert}{}", &text[..at], &text[at..]);
        if let Err(errors) = assemble_all_errors(&damaged) {
            prop_assert!(!errors.is_empty());
            for e in errors {
                prop_assert!(e.line >= 1 && e.column >= 1);
                prop_assert!(e.offset + e.len <= damaged.len(), "{e:?}");
            }
        }
    }
}
