//! The interpreter's and the model's Rust API: what other stages rely on.

use capscope_bytecode::abi::helpers::id;
use capscope_bytecode::insn::{
    AluOp, AtomicOp, CallTarget, DecodeError, HelperId, Insn, InsnIdx, JmpCond, LoadImmKind, Op,
    Operand, Reg, Size, SwapOrder, Width,
};
use capscope_bytecode::interp::{self, Config, Env, Program, TrapKind};
use capscope_bytecode::model::{EventState, ModelEnv, native};
use capscope_bytecode::object::{MapDef, MapKind};
use proptest::prelude::*;

fn map(kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        name: format!("{kind}"),
        kind,
        key_size,
        value_size,
        max_entries,
        display: Default::default(),
    }
}

fn sample_maps() -> Vec<MapDef> {
    vec![
        map(MapKind::Hash, 4, 8, 8),
        map(MapKind::Array, 4, 16, 4),
        map(MapKind::PerCpuArray, 4, 8, 2),
        map(MapKind::RingBuf, 0, 0, 4096),
        map(MapKind::StackTrace, 4, 32, 16),
        map(MapKind::LruHash, 8, 8, 2),
    ]
}

fn asm(text: &str) -> Vec<Insn> {
    capscope_bytecode::asm::assemble(text).expect("test program assembles")
}

fn encode(ops: &[Op]) -> Vec<Insn> {
    ops.iter()
        .flat_map(|op| {
            let (s, n) = op.encode();
            s.into_iter().take(n)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Robustness: the checked mode is safe on any slots.

fn any_reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).expect("0..=10"))
}

fn small_off() -> impl Strategy<Value = i16> {
    prop_oneof![-520i16..16, any::<i16>()]
}

/// Mostly valid instructions that touch memory and helpers, so the checks
/// (not the decoder) are what stops bad programs.
fn op() -> impl Strategy<Value = Op> {
    let imm = prop_oneof![-600i32..600, any::<i32>()];
    prop_oneof![
        (any_reg(), any_reg(), imm.clone()).prop_map(|(d, s, i)| Op::Alu {
            width: Width::W64,
            op: [AluOp::Add, AluOp::Sub, AluOp::Mov, AluOp::And][(i & 3) as usize],
            dst: d,
            src: if i % 2 == 0 {
                Operand::Reg(s)
            } else {
                Operand::Imm(i)
            },
        }),
        (any_reg(), any_reg(), small_off(), 0usize..4, any::<bool>()).prop_map(
            |(d, s, off, sz, signed)| Op::Load {
                size: [Size::B, Size::H, Size::W, Size::DW][sz],
                signed: signed && sz < 3,
                dst: d,
                src: s,
                off,
            }
        ),
        (any_reg(), any_reg(), small_off(), 0usize..4).prop_map(|(d, s, off, sz)| Op::Store {
            size: [Size::B, Size::H, Size::W, Size::DW][sz],
            dst: d,
            off,
            src: Operand::Reg(s),
        }),
        (any_reg(), any_reg(), small_off(), any::<bool>(), 0usize..6).prop_map(
            |(d, s, off, wide, k)| Op::Atomic {
                size: if wide { Size::DW } else { Size::W },
                op: [
                    AtomicOp::Add { fetch: true },
                    AtomicOp::Or { fetch: false },
                    AtomicOp::And { fetch: true },
                    AtomicOp::Xor { fetch: false },
                    AtomicOp::Xchg,
                    AtomicOp::CmpXchg,
                ][k],
                dst: d,
                off,
                src: s,
            }
        ),
        (any_reg(), 0i32..8).prop_map(|(d, i)| Op::LoadImm64 {
            kind: if i < 6 {
                LoadImmKind::Map
            } else {
                LoadImmKind::MapValue
            },
            dst: d,
            imm_lo: i,
            imm_hi: 0,
        }),
        (0usize..12).prop_map(|i| Op::Call(CallTarget::Helper(
            [1, 2, 3, 5, 8, 14, 16, 27, 112, 113, 130, 4].map(HelperId)[i]
        ))),
        (-3i32..6).prop_map(|o| Op::Call(CallTarget::Local(o))),
        (any_reg(), imm.clone(), -4i16..8).prop_map(|(d, i, off)| Op::Jmp {
            width: Width::W32,
            cond: JmpCond::Sgt,
            dst: d,
            src: Operand::Imm(i),
            off,
        }),
        (-3i32..8).prop_map(|off| Op::Ja { off, long: false }),
        (any_reg(), 0usize..3).prop_map(|(d, k)| Op::Swap {
            order: [SwapOrder::ToLe, SwapOrder::ToBe, SwapOrder::Swap][k],
            dst: d,
            bits: 32,
        }),
        Just(Op::Exit),
    ]
}

/// Start values for r0 and r2-r9 that make the body's accesses and helper
/// calls meaningful: stack and context pointers, map handles, small numbers.
fn prologue() -> impl Strategy<Value = Vec<Op>> {
    let init = (0u8..4, -40i32..40).prop_map(|(k, v)| (k, v));
    (
        proptest::collection::vec(init, 9),
        proptest::collection::vec(-64i16..0, 0..8),
    )
        .prop_map(|(inits, spills)| {
            let mut ops = Vec::new();
            for (i, (k, v)) in inits.into_iter().enumerate() {
                let dst = Reg::new(if i == 0 { 0 } else { i as u8 + 1 }).expect("r0-r9");
                let (base, kind) = match k {
                    0 => (Some(Reg::FP), None),
                    1 => (Some(Reg::R1), None),
                    2 => (None, Some(LoadImmKind::Map)),
                    _ => (None, None),
                };
                match (base, kind) {
                    (Some(b), _) => {
                        ops.push(Op::Alu {
                            width: Width::W64,
                            op: AluOp::Mov,
                            dst,
                            src: Operand::Reg(b),
                        });
                        ops.push(Op::Alu {
                            width: Width::W64,
                            op: AluOp::Add,
                            dst,
                            src: Operand::Imm(v * 4),
                        });
                    }
                    (None, Some(kind)) => ops.push(Op::LoadImm64 {
                        kind,
                        dst,
                        imm_lo: v.rem_euclid(6),
                        imm_hi: 0,
                    }),
                    (None, None) => ops.push(Op::Alu {
                        width: Width::W64,
                        op: AluOp::Mov,
                        dst,
                        src: Operand::Imm(v),
                    }),
                }
            }
            for off in spills {
                ops.push(Op::Store {
                    size: Size::DW,
                    dst: Reg::FP,
                    off: off * 8 % 512 - 8,
                    src: Operand::Imm(i32::from(off)),
                });
            }
            ops
        })
}

fn program() -> impl Strategy<Value = Vec<Insn>> {
    prop_oneof![
        4 => (prologue(), proptest::collection::vec(op(), 1..40))
            .prop_map(|(mut pre, body)| { pre.extend(body); encode(&pre) }),
        1 => proptest::collection::vec(
            (any::<u8>(), 0u8..16, 0u8..16, any::<i16>(), any::<i32>())
                .prop_map(|(code, dst, src, off, imm)| Insn { code, dst, src, off, imm }),
            0..20,
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any program: a result or a trap, never a panic or a stray access
    /// (which would crash this process).
    #[test]
    fn checked_mode_is_total(slots in program(), ctx_len in 0usize..100) {
        let ctx: Vec<u8> = (0..ctx_len as u8).collect();
        let mut env = ModelEnv::new(&sample_maps(), EventState::default());
        let cfg = Config::with_fuel(5_000);
        let r = interp::run(&slots, &ctx, &mut env, &cfg);
        if let Ok(exit) = r {
            prop_assert!(exit.steps <= cfg.fuel);
        }
        // The model stays consistent whatever the program did.
        let snap = env.snapshot();
        prop_assert_eq!(snap.maps.len(), 6);
    }
}

// ---------------------------------------------------------------------------
// Decoding and control.

#[test]
fn invalid_instruction_traps_before_anything_runs() {
    let mut slots = asm("r0 = 1\n r0 += 1\n exit");
    slots.insert(
        1,
        Insn {
            code: 0xff,
            ..Insn::default()
        },
    );
    let mut env = ModelEnv::new(&[], EventState::default());
    let t = interp::run(&slots, &[], &mut env, &Config::default()).unwrap_err();
    assert_eq!(t.at, InsnIdx(1));
    assert_eq!(
        t.kind,
        TrapKind::InvalidInstruction(DecodeError::UnknownOpcode(0xff))
    );
    assert_eq!(
        t.to_string(),
        "instruction 1: invalid instruction: unknown opcode 0xff"
    );
    // ... even if it is unreachable, as in Linux.
    let mut slots = asm("r0 = 0\n exit");
    slots.push(Insn {
        code: 0x18,
        ..Insn::default()
    });
    let t = interp::run(&slots, &[], &mut env, &Config::default()).unwrap_err();
    assert_eq!(
        t.kind,
        TrapKind::InvalidInstruction(DecodeError::TruncatedLddw)
    );
}

#[test]
fn empty_program_falls_off() {
    let mut env = ModelEnv::new(&[], EventState::default());
    let t = interp::run(&[], &[], &mut env, &Config::default()).unwrap_err();
    assert_eq!(t.kind, TrapKind::FellOffEnd);
}

#[test]
fn fuel_zero_runs_nothing() {
    let mut env = ModelEnv::new(&[], EventState::default());
    let t = interp::run(&asm("r0 = 0\n exit"), &[], &mut env, &Config::with_fuel(0)).unwrap_err();
    assert_eq!((t.at, t.kind), (InsnIdx(0), TrapKind::FuelExhausted));
}

#[test]
fn a_decoded_program_runs_many_times() {
    let prog = Program::new(&asm("r0 = *(u32 *)(r1 + 0)\n exit")).unwrap();
    assert_eq!(prog.len(), 2);
    assert_eq!(prog.op(InsnIdx(1)), Some(Op::Exit));
    let mut env = ModelEnv::new(&[], EventState::default());
    for v in [1u32, 7, 42] {
        let exit = prog
            .run(&v.to_le_bytes(), &mut env, &Config::default())
            .unwrap();
        assert_eq!(exit.r0, u64::from(v));
        assert_eq!(exit.steps, 2);
    }
}

// ---------------------------------------------------------------------------
// Addresses are real.

#[test]
fn registers_hold_real_addresses() {
    let ctx = [0u8; 24];
    let mut env = ModelEnv::new(&[], EventState::default());
    // SAFETY: these programs access no memory at all.
    let r1 =
        unsafe { interp::run_trusted(&asm("r0 = r1\n exit"), &ctx, &mut env, &Config::default()) };
    assert_eq!(r1.unwrap().r0, ctx.as_ptr() as u64);
    // SAFETY: as above.
    let fp =
        unsafe { interp::run_trusted(&asm("r0 = r10\n exit"), &ctx, &mut env, &Config::default()) };
    let fp = fp.unwrap().r0;
    assert_eq!(fp % 8, 0, "r10 is 8-aligned");
    assert_ne!(fp, 0);
}

#[test]
fn interpreter_and_native_helpers_see_the_same_map_values() {
    let maps = [map(MapKind::Array, 4, 8, 4)];
    let mut env = ModelEnv::new(&maps, EventState::default());
    let prog = asm("
        *(u32 *)(r10 - 4) = 2
        r1 = map[0] ll
        r2 = r10
        r2 += -4
        call map_lookup_elem
        exit
    ");
    // SAFETY: the checked-mode cases in tests/interp cover this program's
    // accesses: an in-frame key and a helper call checked by the table.
    let from_interp = unsafe { interp::run_trusted(&prog, &[], &mut env, &Config::default()) }
        .unwrap()
        .r0;
    let handle = env.handle(capscope_bytecode::MapIdx(0)).unwrap();
    let key = 2u32.to_le_bytes();
    let _g = env.enter();
    let lookup = native::helper_fn(id::MAP_LOOKUP_ELEM).unwrap();
    // SAFETY: `key` is 4 readable bytes, the map's key size; the handle is
    // the entered environment's.
    let from_native = unsafe { lookup(handle, key.as_ptr() as u64, 0, 0, 0) };
    assert_ne!(from_interp, 0);
    assert_eq!(from_interp, from_native, "one value, one address");
}

// ---------------------------------------------------------------------------
// The model through native shims.

#[test]
fn native_shims_share_the_model() {
    let maps = [
        map(MapKind::Hash, 4, 8, 2),
        map(MapKind::RingBuf, 0, 0, 4096),
    ];
    let mut env = ModelEnv::new(&maps, EventState::default());
    let h = env.handle(capscope_bytecode::MapIdx(0)).unwrap();
    let rb = env.handle(capscope_bytecode::MapIdx(1)).unwrap();
    let f = |i| native::helper_fn(i).unwrap();
    {
        let _g = env.enter();
        let key = 9u32.to_le_bytes();
        let val = 77u64.to_le_bytes();
        let data = *b"hello";
        // SAFETY: every pointer is to a live local of the size the helper
        // table requires.
        unsafe {
            assert_eq!(
                f(id::MAP_UPDATE_ELEM)(h, key.as_ptr() as u64, val.as_ptr() as u64, 0, 0),
                0
            );
            let p = f(id::MAP_LOOKUP_ELEM)(h, key.as_ptr() as u64, 0, 0, 0);
            assert_ne!(p, 0);
            assert_eq!(f(id::KTIME_GET_NS)(0, 0, 0, 0, 0), 1_000_000_000);
            assert_eq!(f(id::RINGBUF_OUTPUT)(rb, data.as_ptr() as u64, 5, 0, 0), 0);
            // A map of the wrong kind is refused, not acted on.
            assert_eq!(
                f(id::RINGBUF_OUTPUT)(h, data.as_ptr() as u64, 5, 0, 0) as i64,
                -22
            );
            assert_eq!(f(id::MAP_LOOKUP_ELEM)(rb, key.as_ptr() as u64, 0, 0, 0), 0);
        }
    }
    // The clock advanced through the shim: the interpreter sees the next reading.
    let exit = interp::run(
        &asm("call ktime_get_ns\n exit"),
        &[],
        &mut env,
        &Config::default(),
    );
    assert_eq!(exit.unwrap().r0, 1_000_001_000);
    let snap = env.snapshot();
    assert_eq!(snap.maps[0].entries[0].key, 9u32.to_le_bytes());
    assert_eq!(
        snap.maps[0].entries[0].values,
        [77u64.to_le_bytes().to_vec()]
    );
    assert_eq!(snap.maps[1].records, [b"hello".to_vec()]);
    assert_eq!(
        env.take_records(capscope_bytecode::MapIdx(1)),
        [b"hello".to_vec()]
    );
    assert_eq!(env.ringbuf_used(capscope_bytecode::MapIdx(1)), Some(0));
}

#[test]
fn shims_without_an_environment_fail_safely() {
    let f = |i| native::helper_fn(i).unwrap();
    // SAFETY: no pointer arguments are dereferenced without an environment.
    unsafe {
        assert_eq!(f(id::MAP_LOOKUP_ELEM)(1, 2, 0, 0, 0), 0);
        assert_eq!(f(id::KTIME_GET_NS)(0, 0, 0, 0, 0) as i64, -22);
    }
}

#[test]
fn guards_nest() {
    let mut a = ModelEnv::new(
        &[],
        EventState {
            cpu: 1,
            ..EventState::default()
        },
    );
    let mut b = ModelEnv::new(
        &[],
        EventState {
            cpu: 2,
            ..EventState::default()
        },
    );
    let cpu = native::helper_fn(id::GET_SMP_PROCESSOR_ID).unwrap();
    let _ga = a.enter();
    // SAFETY: no pointer arguments.
    assert_eq!(unsafe { cpu(0, 0, 0, 0, 0) }, 1);
    {
        let _gb = b.enter();
        // SAFETY: as above.
        assert_eq!(unsafe { cpu(0, 0, 0, 0, 0) }, 2);
    }
    // SAFETY: as above.
    assert_eq!(unsafe { cpu(0, 0, 0, 0, 0) }, 1);
}

// ---------------------------------------------------------------------------
// Model semantics that need several runs.

#[test]
fn per_cpu_values_are_separate_across_runs() {
    let maps = [map(MapKind::PerCpuArray, 4, 8, 1)];
    let mut env = ModelEnv::new(
        &maps,
        EventState {
            ncpus: 2,
            ..EventState::default()
        },
    );
    let prog = asm("
        *(u32 *)(r10 - 4) = 0
        r1 = map[0] ll
        r2 = r10
        r2 += -4
        call map_lookup_elem
        if r0 == 0 goto +2
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r0 = 0
        exit
    ");
    for cpu in [0, 1, 1, 1] {
        env.event_mut().cpu = cpu;
        interp::run(&prog, &[], &mut env, &Config::default()).unwrap();
    }
    let e = &env.snapshot().maps[0].entries[0];
    assert_eq!(
        e.values,
        [1u64.to_le_bytes().to_vec(), 3u64.to_le_bytes().to_vec()]
    );
}

#[test]
fn equal_runs_give_equal_snapshots() {
    let prog = asm("
        r6 = r1
        *(u64 *)(r10 - 8) = 3
        r1 = map[5] ll
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -8
        r4 = 0
        call map_update_elem
        r1 = r6
        r2 = map[4] ll
        r3 = 0
        call get_stackid
        r0 = 0
        exit
    ");
    let run = || {
        let mut env = ModelEnv::new(&sample_maps(), EventState::default());
        interp::run(&prog, &[0; 8], &mut env, &Config::default()).unwrap();
        env.snapshot()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a.maps[5].entries.len(), 1);
    assert_eq!(a.maps[4].entries.len(), 1);
}

#[test]
fn clear_and_zero() {
    let maps = [map(MapKind::Hash, 4, 8, 4)];
    let mut env = ModelEnv::new(&maps, EventState::default());
    let prog = asm("
        *(u32 *)(r10 - 4) = 1
        *(u64 *)(r10 - 16) = 5
        r1 = map[0] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call map_update_elem
        exit
    ");
    interp::run(&prog, &[], &mut env, &Config::default()).unwrap();
    env.zero(capscope_bytecode::MapIdx(0));
    assert_eq!(env.snapshot().maps[0].entries[0].values, [vec![0u8; 8]]);
    env.clear(capscope_bytecode::MapIdx(0));
    assert!(env.snapshot().maps[0].entries.is_empty());
}

#[test]
fn env_trait_reports_defs_by_handle() {
    let maps = sample_maps();
    let mut env = ModelEnv::new(&maps, EventState::default());
    for (i, def) in maps.iter().enumerate() {
        let h = Env::map_handle(&mut env, capscope_bytecode::MapIdx(i as u32)).unwrap();
        assert_eq!(env.map_def(h), Some(def));
    }
    assert!(Env::map_handle(&mut env, capscope_bytecode::MapIdx(6)).is_none());
    assert!(env.map_def(0).is_none());
    assert_eq!(env.defs().count(), 6);
}
