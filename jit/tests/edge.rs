//! Hand-written edge cases with hand-computed results: the places where
//! eBPF and the machine disagree (division by zero, overflow, shift counts,
//! 32-bit wrap, swaps, sign extension, atomics), run through the JIT alone.
//! The differential tests check the same programs against the interpreter.

mod common;

use capscope_bytecode::insn::{AluOp, AtomicOp, JmpCond, Op, Reg, Size, SwapOrder, Width};
use common::*;

fn exit() -> Op {
    Op::Exit
}

/// r0 = a <op> b (64-bit, both in registers), exit.
fn bin64(op: AluOp, a: u64, b: u64) -> u64 {
    run(&[lddw(0, a), lddw(1, b), alu64(op, 0, reg(1)), exit()])
}

/// r0 = a <op> b (32-bit, registers); r0's high half starts dirty.
fn bin32(op: AluOp, a: u64, b: u64) -> u64 {
    run(&[lddw(0, a), lddw(1, b), alu32(op, 0, reg(1)), exit()])
}

fn bin64k(op: AluOp, a: u64, k: i32) -> u64 {
    run(&[lddw(0, a), alu64(op, 0, imm(k)), exit()])
}

fn bin32k(op: AluOp, a: u64, k: i32) -> u64 {
    run(&[lddw(0, a), alu32(op, 0, imm(k)), exit()])
}

const MIN64: u64 = i64::MIN as u64;
const DIRTY: u64 = 0xdead_beef_0000_0000;

#[test]
fn division_by_zero_gives_rfc_results() {
    for (op, a, want64, want32) in [
        (AluOp::Div, 7u64 | DIRTY, 0, 0),
        (AluOp::SDiv, 7 | DIRTY, 0, 0),
        (AluOp::Mod, 7 | DIRTY, 7 | DIRTY, 7),
        (AluOp::SMod, 7 | DIRTY, 7 | DIRTY, 7),
    ] {
        assert_eq!(bin64(op, a, 0), want64, "{op:?} reg");
        assert_eq!(bin64k(op, a, 0), want64, "{op:?} imm");
        assert_eq!(
            bin32(op, a, DIRTY),
            want32,
            "{op:?} reg32 (high half ignored)"
        );
        assert_eq!(bin32k(op, a, 0), want32, "{op:?} imm32");
    }
}

#[test]
fn signed_overflow_wraps_instead_of_trapping() {
    assert_eq!(bin64(AluOp::SDiv, MIN64, u64::MAX), MIN64);
    assert_eq!(bin64k(AluOp::SDiv, MIN64, -1), MIN64);
    assert_eq!(bin64(AluOp::SMod, MIN64, u64::MAX), 0);
    assert_eq!(bin64k(AluOp::SMod, MIN64, -1), 0);
    let min32 = 0x8000_0000u64 | DIRTY;
    assert_eq!(bin32(AluOp::SDiv, min32, 0xffff_ffff), 0x8000_0000);
    assert_eq!(bin32k(AluOp::SDiv, min32, -1), 0x8000_0000);
    assert_eq!(bin32(AluOp::SMod, min32, 0xffff_ffff), 0);
    assert_eq!(bin32k(AluOp::SMod, min32, -1), 0);
    // Ordinary signed results truncate toward zero; the remainder takes the
    // dividend's sign.
    assert_eq!(bin64(AluOp::SDiv, (-7i64) as u64, 2), (-3i64) as u64);
    assert_eq!(bin64(AluOp::SMod, (-7i64) as u64, 2), (-1i64) as u64);
    assert_eq!(bin64k(AluOp::SMod, 7, -2), 1);
    assert_eq!(
        bin32k(AluOp::SDiv, (-7i32) as u32 as u64, 2),
        (-3i32) as u32 as u64
    );
    // Unsigned division by a negative immediate divides by its 64-bit
    // sign extension.
    assert_eq!(bin64k(AluOp::Div, u64::MAX, -1), 1);
    assert_eq!(bin64k(AluOp::Div, u64::MAX - 1, -1), 0);
    assert_eq!(bin64k(AluOp::Mod, 5, -1), 5);
    assert_eq!(bin32k(AluOp::Div, 0xffff_ffff, -1), 1);
}

#[test]
fn shift_amounts_are_masked() {
    assert_eq!(bin64(AluOp::Lsh, 1, 65), 2);
    assert_eq!(bin64k(AluOp::Lsh, 1, 64), 1);
    assert_eq!(bin64(AluOp::Rsh, 0x8000_0000_0000_0000, 127), 1);
    assert_eq!(bin64(AluOp::Arsh, MIN64, 63 + 64), u64::MAX);
    assert_eq!(bin32(AluOp::Lsh, 1 | DIRTY, 33), 2);
    assert_eq!(bin32k(AluOp::Lsh, 1, 32), 1);
    assert_eq!(bin32(AluOp::Rsh, 0x8000_0000 | DIRTY, 31 + 32), 1);
    assert_eq!(bin32(AluOp::Arsh, 0x8000_0000, 31), 0xffff_ffff);
    assert_eq!(bin32k(AluOp::Arsh, 0x8000_0000 | DIRTY, 4), 0xf800_0000);
}

#[test]
fn alu32_wraps_and_zero_extends() {
    assert_eq!(bin32(AluOp::Add, 0xffff_ffff | DIRTY, 1), 0);
    assert_eq!(bin32(AluOp::Sub, 0, 1), 0xffff_ffff);
    assert_eq!(bin32(AluOp::Mul, 0x1_0001 | DIRTY, 0x1_0001), 0x2_0001);
    assert_eq!(bin32k(AluOp::Xor, DIRTY, -1), 0xffff_ffff);
    assert_eq!(bin32k(AluOp::Mov, DIRTY, -1), 0xffff_ffff);
    assert_eq!(bin64k(AluOp::Mov, 0, -1), u64::MAX);
    assert_eq!(bin32(AluOp::Mov, 0, 0x1234_5678_9abc_def0), 0x9abc_def0);
    assert_eq!(bin64k(AluOp::Add, 1, -2), u64::MAX);
    assert_eq!(bin64k(AluOp::And, u64::MAX, -16), !15);
    assert_eq!(bin64(AluOp::Mul, 1 << 63, 2), 0);
    assert_eq!(
        run(&[
            lddw(0, 5 | DIRTY),
            Op::Neg {
                width: Width::W32,
                dst: Reg::R0
            },
            exit()
        ]),
        0xffff_fffb
    );
    assert_eq!(
        run(&[
            mov64(0, i32::MIN),
            Op::Neg {
                width: Width::W64,
                dst: Reg::R0
            },
            exit()
        ]),
        1 << 31
    );
}

fn swap(order: SwapOrder, bits: u8, v: u64) -> u64 {
    run(&[
        lddw(0, v),
        Op::Swap {
            order,
            dst: Reg::R0,
            bits,
        },
        exit(),
    ])
}

#[test]
fn byte_swaps_are_exact() {
    let v = 0x0102_0304_0506_0708;
    assert_eq!(swap(SwapOrder::ToBe, 16, v), 0x0807);
    assert_eq!(swap(SwapOrder::ToBe, 32, v), 0x0807_0605);
    assert_eq!(swap(SwapOrder::ToBe, 64, v), 0x0807_0605_0403_0201);
    assert_eq!(swap(SwapOrder::ToLe, 16, v), 0x0708);
    assert_eq!(swap(SwapOrder::ToLe, 32, v), 0x0506_0708);
    assert_eq!(swap(SwapOrder::ToLe, 64, v), v);
    assert_eq!(swap(SwapOrder::Swap, 16, v), 0x0807);
    assert_eq!(swap(SwapOrder::Swap, 32, v), 0x0807_0605);
    assert_eq!(swap(SwapOrder::Swap, 64, v), 0x0807_0605_0403_0201);
}

fn movsx(width: Width, bits: u8, v: u64) -> u64 {
    run(&[
        lddw(1, v),
        lddw(0, DIRTY),
        Op::MovSx {
            width,
            dst: Reg::R0,
            src: Reg::R1,
            bits,
        },
        exit(),
    ])
}

#[test]
fn sign_extension() {
    assert_eq!(movsx(Width::W64, 8, 0x180), u64::MAX - 0x7f);
    assert_eq!(movsx(Width::W64, 8, 0x17f), 0x7f);
    assert_eq!(movsx(Width::W64, 16, 0x8000), 0xffff_ffff_ffff_8000);
    assert_eq!(movsx(Width::W64, 32, 0x8000_0000), 0xffff_ffff_8000_0000);
    assert_eq!(movsx(Width::W32, 8, 0x80), 0xffff_ff80);
    assert_eq!(movsx(Width::W32, 16, 0xffff_8000), 0xffff_8000);
    // MEMSX loads sign-extend, plain loads zero-extend.
    for (size, signed, want) in [
        (Size::B, true, 0xffff_ffff_ffff_fff0),
        (Size::B, false, 0xf0),
        (Size::H, true, 0xffff_ffff_ffff_fff0),
        (Size::H, false, 0xfff0),
        (Size::W, true, 0xffff_ffff_ffff_fff0),
        (Size::W, false, 0xffff_fff0),
        (Size::DW, false, 0xffff_ffff_ffff_fff0),
    ] {
        let got = run(&[
            mov64(1, -16),
            stx(Size::DW, 10, -8, 1),
            Op::Load {
                size,
                signed,
                dst: Reg::R0,
                src: Reg::FP,
                off: -8,
            },
            exit(),
        ]);
        assert_eq!(got, want, "{size:?} signed={signed}");
    }
}

#[test]
fn stores_truncate_and_immediates_sign_extend() {
    let got = run(&[
        lddw(1, u64::MAX),
        stx(Size::DW, 10, -8, 1),
        Op::Store {
            size: Size::H,
            dst: Reg::FP,
            off: -6,
            src: imm(0x1234_5678),
        },
        Op::Store {
            size: Size::B,
            dst: Reg::FP,
            off: -8,
            src: imm(0),
        },
        ldx(Size::DW, 0, 10, -8),
        exit(),
    ]);
    assert_eq!(got, 0xffff_ffff_5678_ff00);
    let got = run(&[
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -16,
            src: imm(-2),
        },
        ldx(Size::DW, 0, 10, -16),
        exit(),
    ]);
    assert_eq!(got, u64::MAX - 1);
}

#[test]
fn context_loads_read_the_real_context() {
    let ctx: Vec<u8> = (0u8..32).collect();
    let got = run_ctx(
        &[
            ldx(Size::W, 0, 1, 4),
            ldx(Size::B, 2, 1, 31),
            alu64(AluOp::Add, 0, reg(2)),
            exit(),
        ],
        &ctx,
    );
    assert_eq!(got, 0x0706_0504 + 31);
}

/// Store `init` at fp-8 (DW), run `op` with r1 = `src`, r0 = `r0`, return
/// (memory, r0, r1).
fn atomic(size: Size, op: AtomicOp, init: u64, src: u64, r0: u64) -> (u64, u64, u64) {
    let prog = |out: u8| {
        vec![
            lddw(2, init),
            stx(Size::DW, 10, -8, 2),
            lddw(1, src),
            lddw(0, r0),
            Op::Atomic {
                size,
                op,
                dst: Reg::FP,
                off: -8,
                src: Reg::R1,
            },
            match out {
                0 => ldx(Size::DW, 0, 10, -8),
                1 => alu64(AluOp::Mov, 0, reg(0)),
                _ => alu64(AluOp::Mov, 0, reg(1)),
            },
            exit(),
        ]
    };
    (run(&prog(0)), run(&prog(1)), run(&prog(2)))
}

#[test]
fn atomics_are_exact() {
    let a = 0x1111_1111_0000_000f;
    // Non-fetching ops leave src alone.
    assert_eq!(
        atomic(Size::DW, AtomicOp::Add { fetch: false }, a, 1, 9),
        (a + 1, 9, 1)
    );
    assert_eq!(
        atomic(Size::DW, AtomicOp::Add { fetch: true }, a, 1, 9),
        (a + 1, 9, a)
    );
    assert_eq!(
        atomic(Size::DW, AtomicOp::Or { fetch: true }, a, 0xf0, 9),
        (a | 0xf0, 9, a)
    );
    assert_eq!(
        atomic(Size::DW, AtomicOp::And { fetch: true }, a, 0x3, 9),
        (3, 9, a)
    );
    assert_eq!(
        atomic(Size::DW, AtomicOp::Xor { fetch: false }, a, a, 9),
        (0, 9, a)
    );
    assert_eq!(atomic(Size::DW, AtomicOp::Xchg, a, 5, 9), (5, 9, a));
    assert_eq!(atomic(Size::DW, AtomicOp::CmpXchg, a, 5, a), (5, a, 5));
    assert_eq!(atomic(Size::DW, AtomicOp::CmpXchg, a, 5, 7), (a, a, 5));
    // 32-bit: only the low word changes; fetched values zero-extend.
    let hi = 0x1111_1111_0000_0000;
    assert_eq!(
        atomic(
            Size::W,
            AtomicOp::Add { fetch: true },
            hi | 0xffff_ffff,
            1,
            9
        ),
        (hi, 9, 0xffff_ffff)
    );
    assert_eq!(
        atomic(Size::W, AtomicOp::Xchg, hi | 7, DIRTY | 3, 9),
        (hi | 3, 9, 7)
    );
    assert_eq!(
        atomic(Size::W, AtomicOp::CmpXchg, hi | 7, 3, DIRTY | 7),
        (hi | 3, 7, 3)
    );
    assert_eq!(
        atomic(Size::W, AtomicOp::CmpXchg, hi | 7, 3, 8),
        (hi | 7, 7, 3)
    );
}

/// r0 = 1 if `a cond b` at `width`, else 0.
fn cond(width: Width, c: JmpCond, a: u64, b: u64) -> u64 {
    run(&[
        lddw(1, a),
        lddw(2, b),
        mov64(0, 1),
        jmp(width, c, 1, reg(2), 1),
        mov64(0, 0),
        exit(),
    ])
}

#[test]
fn conditions_at_both_widths() {
    use JmpCond::*;
    let neg = DIRTY | 0xffff_fffe; // 64-bit: large unsigned, negative; 32-bit: -2
    for (c, a, b, w64, w32) in [
        (Eq, DIRTY | 1, 1, 0, 1),
        (Ne, DIRTY | 1, 1, 1, 0),
        (Gt, neg, 1, 1, 1),
        (Sgt, neg, 1, 0, 0),
        (Slt, neg, 1, 1, 1),
        (Sge, 1, neg, 1, 1),
        (Lt, 1, neg, 1, 1),
        (Le, 5, 5, 1, 1),
        (Ge, 4, 5, 0, 0),
        (Sle, 0xffff_ffff, 0, 0, 1),
        (Set, DIRTY, 0xffff_ffff, 0, 0),
        (Set, DIRTY | 2, 3, 1, 1),
    ] {
        assert_eq!(cond(Width::W64, c, a, b), w64, "{c:?} 64");
        assert_eq!(cond(Width::W32, c, a, b), w32, "{c:?} 32");
    }
    // Immediates compare sign-extended at 64 bits.
    let got = run(&[
        lddw(1, u64::MAX),
        mov64(0, 0),
        jmp(Width::W64, Eq, 1, imm(-1), 1),
        exit(),
        mov64(0, 1),
        exit(),
    ]);
    assert_eq!(got, 1);
}

#[test]
fn long_jumps_and_loops() {
    // gotol over a stretch of code; then a bounded loop summing 1..=10.
    let mut ops = vec![mov64(0, 0), Op::Ja { off: 3, long: true }];
    ops.extend([mov64(0, 99); 3]);
    ops.extend([
        mov64(1, 10),
        alu64(AluOp::Add, 0, reg(1)),
        alu64(AluOp::Sub, 1, imm(1)),
        jmp(Width::W64, JmpCond::Ne, 1, imm(0), -3),
        exit(),
    ]);
    assert_eq!(run(&ops), 55);
}

/// r0 = a <op> k with `a` read from the context, so the JIT cannot fold it
/// (the `lddw` versions above can be folded by its constant tracking).
fn ctx_k(width: Width, op: AluOp, a: u64, k: i32) -> u64 {
    let alu = match width {
        Width::W64 => alu64(op, 0, imm(k)),
        Width::W32 => alu32(op, 0, imm(k)),
    };
    run_ctx(&[ldx(Size::DW, 0, 1, 0), alu, exit()], &a.to_le_bytes())
}

#[test]
fn identities_and_power_of_two_multiplies_match_the_interpreter() {
    // The translator turns `x op 0` into `x` and `x * 2^n` into a shift;
    // `run_ctx` compares every result with the interpreter.
    let values = [
        0u64,
        1,
        7,
        DIRTY | 5,
        MIN64,
        u64::MAX,
        0x1234_5678_9abc_def0,
    ];
    let ks = [0, 1, 2, 8, 1 << 20, 1 << 30, -1, -8, i32::MIN, 3];
    let ops = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Or,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
        AluOp::Mul,
        AluOp::Mov,
    ];
    for a in values {
        for k in ks {
            for op in ops {
                for w in [Width::W64, Width::W32] {
                    ctx_k(w, op, a, k);
                }
                // And folded from constants (lddw, then the operation).
                bin64k(op, a, k);
                bin32k(op, a, k);
            }
        }
    }
    // Spot checks with hand-computed results.
    assert_eq!(ctx_k(Width::W32, AluOp::Add, DIRTY | 5, 0), 5);
    assert_eq!(ctx_k(Width::W64, AluOp::Add, DIRTY | 5, 0), DIRTY | 5);
    assert_eq!(ctx_k(Width::W64, AluOp::Mul, 3, 1 << 30), 3 << 30);
    assert_eq!(
        ctx_k(Width::W32, AluOp::Mul, 3, 1 << 30),
        (3u64 << 30) & 0xffff_ffff
    );
    assert_eq!(
        ctx_k(Width::W64, AluOp::Mul, 3, i32::MIN),
        3u64.wrapping_mul(i64::from(i32::MIN) as u64)
    );
}
