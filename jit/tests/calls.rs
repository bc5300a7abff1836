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
    unsafe { p.call([0u8; 8].as_ptr(), 0) }
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

/// An array (`cpus == 1`) or per-CPU array of `entries` u64 values per
/// CPU, CPU `c`'s entry `k` holding `1000 * c + 10 * (k + 1)`. No helper is
/// linked, so only inlined lookups compile.
struct ArrayLinker {
    values: Vec<u64>,
    entries: u32,
    cpus: u32,
}

impl ArrayLinker {
    fn new(entries: u32, cpus: u32) -> ArrayLinker {
        let values = (0..cpus)
            .flat_map(|c| (0..entries).map(move |k| 1000 * u64::from(c) + 10 * u64::from(k + 1)))
            .collect();
        ArrayLinker {
            values,
            entries,
            cpus,
        }
    }
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
            max_entries: self.entries,
            cpu_stride: if self.cpus > 1 {
                8 * u64::from(self.entries)
            } else {
                0
            },
        })
    }
}

/// `key = <how>; r0 = lookup(map 0, &key); return r0 ? *r0 : 999`, where
/// the key is a stack constant or comes from the context (unknown to the
/// JIT). With `miss_inserts`, the null branch calls `map_update_elem`,
/// which no linker here provides.
fn lookup_prog(key: Key, miss_inserts: bool) -> Vec<Op> {
    let mut ops = match key {
        Key::Const(k) => vec![Op::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -4,
            src: imm(k),
        }],
        Key::FromCtx => vec![ldx(Size::W, 3, 1, 0), stx(Size::W, 10, -4, 3)],
    };
    ops.extend([
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
    ]);
    if miss_inserts {
        ops.extend([
            map(1, 0),
            alu64(AluOp::Mov, 2, reg(10)),
            alu64(AluOp::Add, 2, imm(-4)),
            alu64(AluOp::Mov, 3, reg(10)),
            alu64(AluOp::Add, 3, imm(-4)),
            mov64(4, 0),
            Op::Call(CallTarget::Helper(id::MAP_UPDATE_ELEM)),
        ]);
    }
    ops.extend([mov64(0, 999), Op::Exit]);
    ops
}

#[derive(Clone, Copy)]
enum Key {
    Const(i32),
    FromCtx,
}

fn run_on(ops: &[Op], linker: &ArrayLinker, ctx_key: u32, cpu: u64) -> u64 {
    assert!(cpu < u64::from(linker.cpus));
    let p = compile_with(ops, None, linker, &Options::default()).unwrap();
    let ctx = u64::from(ctx_key).to_le_bytes();
    // SAFETY: the programs read 4 bytes of the 8-byte context and the
    // stack, and `cpu` is below the CPU count the layout covers.
    unsafe { p.call(ctx.as_ptr(), cpu) }
}

#[test]
fn array_lookups_inline_to_bounds_check_and_address() {
    let linker = ArrayLinker::new(4, 1);
    for (key, want) in [(0, 10), (3, 40), (4, 999), (-1, 999)] {
        assert_eq!(
            run_on(&lookup_prog(Key::Const(key), false), &linker, 0, 0),
            want
        );
        assert_eq!(
            run_on(&lookup_prog(Key::FromCtx, false), &linker, key as u32, 0),
            want
        );
    }
    // With inlining off, the (missing) helper is needed.
    let opts = Options {
        inline_array_lookups: false,
        ..Options::default()
    };
    assert!(compile_with(&lookup_prog(Key::Const(0), false), None, &linker, &opts).is_err());
}

#[test]
fn per_cpu_array_lookups_use_the_cpu_argument() {
    let linker = ArrayLinker::new(4, 3);
    for cpu in 0..3u64 {
        for (key, want) in [(0u32, 10u64), (2, 30), (4, 999)] {
            let want = if want == 999 { 999 } else { want + 1000 * cpu };
            assert_eq!(
                run_on(&lookup_prog(Key::Const(key as i32), false), &linker, 0, cpu),
                want,
                "constant key {key} on CPU {cpu}"
            );
            assert_eq!(
                run_on(&lookup_prog(Key::FromCtx, false), &linker, key, cpu),
                want,
                "context key {key} on CPU {cpu}"
            );
        }
    }
}

#[test]
fn a_known_key_in_range_drops_the_null_check_and_the_miss_path() {
    // The miss path calls map_update_elem, which the linker lacks: the
    // program compiles only if that path was never translated.
    let linker = ArrayLinker::new(4, 2);
    assert_eq!(
        run_on(&lookup_prog(Key::Const(1), true), &linker, 0, 1),
        1020
    );
    for key in [Key::Const(4), Key::FromCtx] {
        let err = compile_with(&lookup_prog(key, true), None, &linker, &Options::default());
        assert!(
            matches!(err, Err(capscope_jit::JitError::UnknownHelper { .. })),
            "{err:?}"
        );
    }
}

#[test]
fn stack_constants_are_forgotten_when_the_stack_may_change() {
    let linker = ArrayLinker::new(4, 1);
    // key = 0, then overwritten with 2 through a pointer the JIT cannot
    // follow (r10 plus a register): the lookup must see 2.
    let mut ops = vec![
        Op::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -4,
            src: imm(0),
        },
        mov64(4, -4),
        alu64(AluOp::Mov, 3, reg(10)),
        alu64(AluOp::Add, 3, reg(4)),
        Op::Store {
            size: Size::W,
            dst: r(3),
            off: 0,
            src: imm(2),
        },
    ];
    ops.extend(lookup_prog(Key::Const(0), false).into_iter().skip(1));
    assert_eq!(run_on(&ops, &linker, 0, 0), 30);
    // Overwritten byte-wise through r10: tracked exactly.
    let mut ops = vec![
        Op::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -4,
            src: imm(0),
        },
        Op::Store {
            size: Size::B,
            dst: Reg::FP,
            off: -4,
            src: imm(3),
        },
    ];
    ops.extend(lookup_prog(Key::Const(0), false).into_iter().skip(1));
    assert_eq!(run_on(&ops, &linker, 0, 0), 40);
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
