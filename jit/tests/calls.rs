//! Helper calls, map handles and inlined local calls.

mod common;

use capscope_bytecode::abi::helpers::id;
use capscope_bytecode::insn::{
    AluOp, CallTarget, HelperId, LoadImmKind, MapIdx, Op, Reg, Size, Width,
};
use capscope_jit::{ArrayLayout, Linker, Options};
use common::*;

unsafe extern "C" fn sum5(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a.wrapping_mul(1)
        .wrapping_add(b.wrapping_mul(10))
        .wrapping_add(c.wrapping_mul(100))
        .wrapping_add(d.wrapping_mul(1000))
        .wrapping_add(e.wrapping_mul(10000))
}

unsafe extern "C" fn echo_map(map: u64, _key: u64, _: u64, _: u64, _: u64) -> u64 {
    map
}

fn linker() -> TestLinker {
    TestLinker {
        maps: 3,
        helpers: vec![
            // Not in the helper table, so all five registers are passed.
            (HelperId(4000), sum5),
            (id::MAP_DELETE_ELEM, echo_map),
        ],
    }
}

fn run_linked(ops: &[Op], linker: &dyn Linker) -> u64 {
    let p = compile_with(ops, None, linker, &Options::default()).unwrap();
    // SAFETY: the helpers above only do arithmetic on their arguments.
    unsafe { p.call([0u8; 8].as_ptr()) }
}

fn map(dst: u8, idx: u32) -> Op {
    Op::LoadImm64 {
        kind: LoadImmKind::Map,
        dst: r(dst),
        imm_lo: idx as i32,
        imm_hi: 0,
    }
}

#[test]
fn helpers_get_r1_to_r5_and_callee_saved_survive() {
    let got = run_linked(
        &[
            mov64(1, 1),
            mov64(2, 2),
            mov64(3, 3),
            mov64(4, 4),
            mov64(5, 5),
            mov64(6, 7),
            Op::Call(CallTarget::Helper(HelperId(4000))),
            alu64(AluOp::Mul, 0, imm(10)),
            alu64(AluOp::Add, 0, reg(6)),
            Op::Exit,
        ],
        &linker(),
    );
    assert_eq!(got, 543_210 + 7);
}

#[test]
fn map_handles_are_the_linkers_constants() {
    let got = run_linked(
        &[
            map(1, 2),
            mov64(2, 0),
            Op::Call(CallTarget::Helper(id::MAP_DELETE_ELEM)),
            Op::Exit,
        ],
        &linker(),
    );
    assert_eq!(got, 0x1000 + 32);
}

struct ArrayLinker {
    values: Vec<u64>,
}

impl Linker for ArrayLinker {
    fn map_handle(&self, idx: MapIdx) -> Option<u64> {
        (idx.0 == 0).then_some(0x5000)
    }
    fn helper(&self, _: HelperId) -> Option<capscope_bytecode::abi::helpers::HelperFn> {
        None
    }
    fn array_map(&self, idx: MapIdx) -> Option<ArrayLayout> {
        (idx.0 == 0).then_some(ArrayLayout {
            values: self.values.as_ptr() as u64,
            value_stride: 8,
            max_entries: self.values.len() as u32,
        })
    }
}

#[test]
fn array_lookups_inline_to_bounds_check_and_address() {
    let linker = ArrayLinker {
        values: vec![10, 20, 30, 40],
    };
    // key at fp-4; r0 = lookup ? *r0 : 999
    let prog = |key: i32| {
        vec![
            Op::Store {
                size: Size::W,
                dst: Reg::FP,
                off: -4,
                src: imm(key),
            },
            map(1, 0),
            alu64(AluOp::Mov, 2, reg(10)),
            alu64(AluOp::Add, 2, imm(-4)),
            Op::Call(CallTarget::Helper(id::MAP_LOOKUP_ELEM)),
            jmp(
                Width::W64,
                capscope_bytecode::insn::JmpCond::Eq,
                0,
                imm(0),
                2,
            ),
            ldx(Size::DW, 0, 0, 0),
            Op::Exit,
            mov64(0, 999),
            Op::Exit,
        ]
    };
    // No helper is linked: only the inlined path can produce these.
    assert_eq!(run_linked(&prog(0), &linker), 10);
    assert_eq!(run_linked(&prog(3), &linker), 40);
    assert_eq!(run_linked(&prog(4), &linker), 999);
    assert_eq!(run_linked(&prog(-1), &linker), 999);
    // With inlining off, the (missing) helper is needed.
    let opts = Options {
        inline_array_lookups: false,
        ..Options::default()
    };
    assert!(compile_with(&prog(0), None, &linker, &opts).is_err());
}

#[test]
fn local_calls_get_a_fresh_frame_and_keep_callee_saved() {
    // main: r6 = 5; *(fp-8) = 100; r1 = 7; call f; r0 += r6 + *(fp-8)
    // f:    r6 = 1000; *(fp-8) = 1; r0 = r1 * 2 + *(fp-8)
    let ops = [
        mov64(6, 5),
        mov64(2, 100),
        stx(Size::DW, 10, -8, 2),
        mov64(1, 7),
        Op::Call(CallTarget::Local(5)),
        alu64(AluOp::Add, 0, reg(6)),
        ldx(Size::DW, 2, 10, -8),
        alu64(AluOp::Add, 0, reg(2)),
        Op::Exit,
        // padding that is never executed
        mov64(0, 77),
        // f (slot 10)
        mov64(6, 1000),
        mov64(3, 1),
        stx(Size::DW, 10, -8, 3),
        alu64(AluOp::Mov, 0, reg(1)),
        alu64(AluOp::Mul, 0, imm(2)),
        ldx(Size::DW, 3, 10, -8),
        alu64(AluOp::Add, 0, reg(3)),
        Op::Exit,
    ];
    assert_eq!(run(&ops), 14 + 1 + 5 + 100);
}

#[test]
fn nested_and_repeated_local_calls() {
    // main calls g twice; g calls h; h: r0 = r1 + 1; g: r1 *= 2, call h.
    let ops = [
        mov64(1, 3),
        Op::Call(CallTarget::Local(5)), // -> 7 (g)
        alu64(AluOp::Mov, 6, reg(0)),   // 7
        alu64(AluOp::Mov, 1, reg(0)),
        Op::Call(CallTarget::Local(2)), // -> 7 (g): 15
        alu64(AluOp::Add, 0, reg(6)),   // 22
        Op::Exit,
        // g (slot 7)
        alu64(AluOp::Mul, 1, imm(2)),
        Op::Call(CallTarget::Local(1)), // -> 10 (h)
        Op::Exit,
        // h (slot 10)
        alu64(AluOp::Mov, 0, reg(1)),
        alu64(AluOp::Add, 0, imm(1)),
        Op::Exit,
    ];
    assert_eq!(run(&ops), 22);
}
