//! Soundness: every program the verifier accepts runs in the memory-checked
//! reference interpreter without a single trap, across many contexts and
//! map states.
//!
//! Programs come from a structured generator that favours code the verifier
//! is likely to accept (stack stores before loads, lookups with null checks,
//! masked offsets, bounded loops, helper calls with well-formed arguments),
//! with enough mutation (random offsets, sizes, masks and registers, raw
//! random instructions) that many are rejected too: the interesting cases
//! are those just on the accepting side of a rule.

use std::cell::Cell;
use std::fmt::Write as _;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::{Insn, Op};
use capscope_bytecode::interp::{Config, run};
use capscope_bytecode::model::{EventState, ModelEnv};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_verifier::{Options, verify_insns};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};

fn map(kind: MapKind, k: u32, v: u32, n: u32) -> MapDef {
    MapDef {
        name: String::new(),
        kind,
        key_size: k,
        value_size: v,
        max_entries: n,
        display: MapDisplay::default(),
    }
}

/// map 0: hash 8->16, map 1: array 4->32, map 2: ring buffer, map 3: stacks.
fn maps() -> Vec<MapDef> {
    vec![
        map(MapKind::Hash, 8, 16, 64),
        map(MapKind::Array, 4, 32, 8),
        map(MapKind::RingBuf, 0, 0, 4096),
        map(MapKind::StackTrace, 4, 64, 16),
    ]
}

const POINTS: [AttachPoint; 4] = [
    AttachPoint::SyscallEnter,
    AttachPoint::CapAlloc,
    AttachPoint::Begin,
    AttachPoint::PageFault,
];

#[derive(Clone, Debug)]
enum Piece {
    CtxLoad {
        dst: u8,
        off: i16,
        size: u8,
    },
    Alu {
        op: &'static str,
        dst: u8,
        src: Src,
        w32: bool,
    },
    StackStore {
        off: i16,
        size: u8,
        src: Src,
    },
    StackLoad {
        dst: u8,
        off: i16,
        size: u8,
    },
    Lookup {
        array: bool,
        key: Src,
        mask: i32,
        off: i16,
        size: u8,
        write: bool,
        keep: bool,
    },
    Update {
        value_words: u8,
    },
    Helper(&'static str),
    Comm {
        off: i16,
        size: i32,
    },
    Ringbuf {
        off: i16,
        size: i32,
    },
    StackId {
        flags: i32,
    },
    PtrSpill {
        ptr: u8,
        off: i16,
        size: u8,
        deref: bool,
    },
    StackVar {
        mask: i32,
        base: i16,
        size: u8,
        write: bool,
    },
    Atomic {
        off: i16,
        fetch: bool,
    },
    Branch {
        reg: u8,
        cond: &'static str,
        imm: i32,
        inner: Vec<Piece>,
    },
    Loop {
        n: i32,
        inner: Vec<Piece>,
    },
    Raw(Insn),
}

#[derive(Clone, Debug)]
enum Src {
    Imm(i32),
    Reg(u8),
}

impl Src {
    fn text(&self) -> String {
        match self {
            Src::Imm(i) => i.to_string(),
            Src::Reg(r) => format!("r{r}"),
        }
    }
}

fn width(size: u8) -> &'static str {
    match size {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        _ => "u64",
    }
}

fn src() -> impl Strategy<Value = Src> {
    prop_oneof![
        4 => (-64i32..4096).prop_map(Src::Imm),
        1 => any::<i32>().prop_map(Src::Imm),
        4 => prop::sample::select(vec![6u8, 7]).prop_map(Src::Reg),
        1 => prop::sample::select(vec![8u8, 9, 10]).prop_map(Src::Reg),
    ]
}

fn size() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(8u8), 2 => Just(4u8), 1 => Just(2u8), 1 => Just(1u8)]
}

/// Stack offsets below r10, mostly aligned and inside the frame.
fn stack_off() -> impl Strategy<Value = i16> {
    prop_oneof![
        6 => (1i16..=16).prop_map(|k| k * 8),
        2 => 1i16..=64,
        1 => 1i16..=520,
    ]
}

fn leaf() -> impl Strategy<Value = Piece> {
    let reg = || prop::sample::select(vec![6u8, 7]);
    let ctx_off = prop_oneof![
        8 => prop::sample::select(vec![0i16, 8, 12, 16]),
        2 => prop::sample::select(vec![24i16, 28, 32, 36, 40, 48]),
        1 => -8i16..96,
    ];
    prop_oneof![
        6 => (reg(), prop::sample::select(vec![(0i16, 8u8), (8, 4), (12, 4), (16, 4)]))
            .prop_map(|(dst, (off, size))| Piece::CtxLoad { dst, off, size }),
        1 => (reg(), ctx_off, size()).prop_map(|(dst, off, size)| Piece::CtxLoad { dst, off, size }),
        4 => (
            prop::sample::select(vec!["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "=", "s/=", "s%="]),
            reg(),
            src(),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(op, dst, src, w32)| Piece::Alu { op, dst, src, w32 }),
        3 => (stack_off(), size(), src()).prop_map(|(off, size, src)| Piece::StackStore { off, size, src }),
        3 => (reg(), stack_off(), size()).prop_map(|(dst, off, size)| Piece::StackLoad { dst, off, size }),
        4 => (
            any::<bool>(),
            src(),
            prop_oneof![4 => prop::sample::select(vec![0i32, 1, 3, 7]), 1 => prop::sample::select(vec![8i32, 15, 16, 24, 31, 63])],
            prop_oneof![4 => 0i16..8, 1 => -4i16..40],
            size(),
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(array, key, mask, off, size, write, keep)| Piece::Lookup {
                array, key, mask, off, size, write, keep
            }),
        1 => (0u8..=2).prop_map(|value_words| Piece::Update { value_words }),
        2 => prop::sample::select(vec!["ktime_get_ns", "get_smp_processor_id", "get_current_pid_tgid"])
            .prop_map(Piece::Helper),
        2 => (prop::sample::select(vec![16i16, 24, 16, 520]), prop_oneof![4 => 1i32..=16, 1 => -1i32..24])
            .prop_map(|(off, size)| Piece::Comm { off, size }),
        2 => (prop::sample::select(vec![16i16, 32, 8]), prop_oneof![4 => 1i32..=8, 1 => -1i32..40])
            .prop_map(|(off, size)| Piece::Ringbuf { off, size }),
        1 => prop::sample::select(vec![0i32, 256, 3]).prop_map(|flags| Piece::StackId { flags }),
        2 => (prop::sample::select(vec![9u8, 9, 10, 0]), stack_off(), size(), prop::bool::weighted(0.3))
            .prop_map(|(ptr, off, size, deref)| Piece::PtrSpill { ptr, off, size, deref }),
        2 => (
            prop::sample::select(vec![0i32, 1, 7, 8, 15, 31, 56, 63, 511]),
            prop::sample::select(vec![16i16, 24, 64, 64, 128, 512]),
            size(),
            any::<bool>(),
        )
            .prop_map(|(mask, base, size, write)| Piece::StackVar { mask, base, size, write }),
        1 => (stack_off(), any::<bool>()).prop_map(|(off, fetch)| Piece::Atomic { off, fetch }),
        1 => (any::<u8>(), 6u8..8, 6u8..8, 0i16..3, -4i32..300).prop_map(|(code, dst, src, off, imm)| {
            Piece::Raw(Insn { code, dst, src, off, imm })
        }),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    leaf().prop_recursive(2, 24, 6, |inner| {
        prop_oneof![
            3 => (
                prop::sample::select(vec![6u8, 7]),
                prop::sample::select(vec!["==", "!=", ">", ">=", "<", "<=", "s>", "s<", "&"]),
                -4i32..64,
                prop::collection::vec(inner.clone(), 1..4),
            )
                .prop_map(|(reg, cond, imm, inner)| Piece::Branch { reg, cond, imm, inner }),
            1 => (1i32..12, prop::collection::vec(inner, 1..4))
                .prop_map(|(n, inner)| Piece::Loop { n, inner }),
        ]
    })
}

struct Gen {
    text: String,
    labels: usize,
    in_loop: bool,
}

impl Gen {
    fn label(&mut self) -> String {
        self.labels += 1;
        format!("L{}", self.labels)
    }

    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn emit(&mut self, p: &Piece) {
        match p {
            Piece::CtxLoad { dst, off, size } => {
                self.line(&format!("r{dst} = *({} *)(r9 {off:+})", width(*size)))
            }
            Piece::Alu { op, dst, src, w32 } => {
                if *w32 {
                    let s = match src {
                        Src::Reg(r) => format!("w{r}"),
                        Src::Imm(i) => i.to_string(),
                    };
                    self.line(&format!("w{dst} {op} {s}"))
                } else {
                    self.line(&format!("r{dst} {op} {}", src.text()))
                }
            }
            Piece::StackStore { off, size, src } => self.line(&format!(
                "*({} *)(r10 - {off}) = {}",
                width(*size),
                src.text()
            )),
            Piece::StackLoad { dst, off, size } => {
                self.line(&format!("r{dst} = *({} *)(r10 - {off})", width(*size)))
            }
            Piece::Lookup {
                array,
                key,
                mask,
                off,
                size,
                write,
                keep,
            } => {
                let (m, kw) = if *array { (1, "u32") } else { (0, "u64") };
                self.line(&format!("*({kw} *)(r10 - 8) = {}", key.text()));
                self.line("r2 = r10");
                self.line("r2 += -8");
                self.line(&format!("r1 = map[{m}] ll"));
                self.line("call map_lookup_elem");
                let l = self.label();
                self.line(&format!("if r0 == 0 goto {l}"));
                self.line("r3 = r7");
                self.line(&format!("r3 &= {mask}"));
                self.line("r0 += r3");
                if *write {
                    self.line(&format!("*({} *)(r0 {off:+}) = r6", width(*size)));
                } else {
                    self.line(&format!("r6 = *({} *)(r0 {off:+})", width(*size)));
                }
                if *keep {
                    self.line("r8 = r0");
                }
                self.line(&format!("{l}:"));
            }
            Piece::Update { value_words } => {
                self.line("*(u64 *)(r10 - 8) = r6");
                for w in 0..*value_words {
                    self.line(&format!("*(u64 *)(r10 - {}) = r7", 24 - 8 * w as i32));
                }
                self.line("r2 = r10");
                self.line("r2 += -8");
                self.line("r3 = r10");
                self.line("r3 += -24");
                self.line("r4 = 0");
                self.line("r1 = map[0] ll");
                self.line("call map_update_elem");
            }
            Piece::Helper(h) => {
                self.line(&format!("call {h}"));
                self.line("r7 = r0");
            }
            Piece::Comm { off, size } => {
                self.line("r1 = r10");
                self.line(&format!("r1 += -{off}"));
                self.line(&format!("r2 = {size}"));
                self.line("call get_current_comm");
            }
            Piece::Ringbuf { off, size } => {
                self.line("r2 = r10");
                self.line(&format!("r2 += -{off}"));
                self.line("r1 = map[2] ll");
                self.line(&format!("r3 = {size}"));
                self.line("r4 = 0");
                self.line("call ringbuf_output");
            }
            Piece::StackId { flags } => {
                self.line("r1 = r9");
                self.line("r2 = map[3] ll");
                self.line(&format!("r3 = {flags}"));
                self.line("call get_stackid");
                self.line("r6 = r0");
            }
            Piece::PtrSpill {
                ptr,
                off,
                size,
                deref,
            } => {
                self.line(&format!("*(u64 *)(r10 - {off}) = r{ptr}"));
                self.line(&format!("r5 = *({} *)(r10 - {off})", width(*size)));
                if *deref {
                    self.line("r4 = *(u64 *)(r5 + 0)");
                }
            }
            Piece::StackVar {
                mask,
                base,
                size,
                write,
            } => {
                self.line("r4 = r7");
                self.line(&format!("r4 &= {mask}"));
                self.line("r5 = r10");
                self.line(&format!("r5 += -{base}"));
                self.line("r5 += r4");
                if *write {
                    self.line(&format!("*({} *)(r5 + 0) = r6", width(*size)));
                } else {
                    self.line(&format!("r6 = *({} *)(r5 + 0)", width(*size)));
                }
            }
            Piece::Atomic { off, fetch } => {
                if *fetch {
                    self.line(&format!("r6 = atomic_fetch_add((u64 *)(r10 - {off}), r6)"));
                } else {
                    self.line(&format!("lock *(u64 *)(r10 - {off}) += r6"));
                }
            }
            Piece::Branch {
                reg,
                cond,
                imm,
                inner,
            } => {
                let l = self.label();
                self.line(&format!("if r{reg} {cond} {imm} goto {l}"));
                for p in inner {
                    self.emit(p);
                }
                self.line(&format!("{l}:"));
            }
            Piece::Loop { n, inner } => {
                if self.in_loop {
                    for p in inner {
                        self.emit(p);
                    }
                    return;
                }
                self.in_loop = true;
                let l = self.label();
                // the counter lives on the stack: pieces may clobber any register
                self.line("r5 = 0");
                self.line("*(u64 *)(r10 - 504) = r5");
                self.line(&format!("{l}:"));
                for p in inner {
                    self.emit(p);
                }
                self.line("r5 = *(u64 *)(r10 - 504)");
                self.line("r5 += 1");
                self.line("*(u64 *)(r10 - 504) = r5");
                self.line(&format!("if r5 < {n} goto {l}"));
                self.in_loop = false;
            }
            Piece::Raw(i) => {
                if let Ok(op) = Op::decode(&[*i, Insn::default()])
                    && op.slots() == 1
                {
                    self.line(&format!("{op}"));
                }
            }
        }
    }
}

fn program() -> impl Strategy<Value = (usize, String)> {
    (
        0..POINTS.len(),
        prop::collection::vec(piece(), 1..10),
        any::<bool>(),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(point, pieces, ret6, zero_stack)| {
            let mut g = Gen {
                text: String::new(),
                labels: 0,
                in_loop: false,
            };
            g.line("r9 = r1");
            g.line("r6 = *(u64 *)(r1 + 0)");
            g.line("r7 = *(u32 *)(r1 + 8)");
            g.line("r8 = 0");
            if zero_stack {
                // most programs start by zeroing the part of the stack the
                // pieces use, as compiled code initializes its locals
                for k in 1..=16 {
                    g.line(&format!("*(u64 *)(r10 - {}) = r8", k * 8));
                }
            }
            for p in &pieces {
                g.emit(p);
            }
            if ret6 {
                g.line("r0 = r6");
            } else {
                g.line("r0 = 0");
            }
            g.line("exit");
            (point, g.text)
        })
}

/// Run an accepted program over several contexts on one environment, so
/// later runs see the map entries earlier runs made.
fn check_runs(insns: &[Insn], point: AttachPoint, ctx_seed: &[u8], text: &str) {
    let maps = maps();
    let mut env = ModelEnv::new(&maps, EventState::default());
    let size = point.context_size();
    for round in 0..4u8 {
        let ctx: Vec<u8> = (0..size)
            .map(|i| {
                let b = ctx_seed
                    .get(i % ctx_seed.len().max(1))
                    .copied()
                    .unwrap_or(0);
                match round {
                    0 => 0,
                    1 => 0xff,
                    _ => b.wrapping_mul(round).wrapping_add(i as u8),
                }
            })
            .collect();
        let cfg = Config::with_fuel(capscope_verifier::MAX_PATH_INSNS + 1);
        if let Err(t) = run(insns, &ctx, &mut env, &cfg) {
            panic!(
                "accepted program trapped at {} ({:?}) in round {round}:\n{text}",
                t.at, t.kind
            );
        }
    }
}

#[test]
fn accepted_programs_never_trap_in_the_checked_interpreter() {
    let cases: u32 = std::env::var("SOUNDNESS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let mut runner = TestRunner::new(PtConfig {
        cases,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let accepted = Cell::new(0u32);
    let total = Cell::new(0u32);
    let strategy = (program(), prop::collection::vec(any::<u8>(), 1..64));
    let result = runner.run(&strategy, |((point, text), seed)| {
        total.set(total.get() + 1);
        let insns = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let point = POINTS[point];
        match verify_insns(&insns, point, &maps(), &Options::default()) {
            Ok(_) => {
                accepted.set(accepted.get() + 1);
                check_runs(&insns, point, &seed, &text);
            }
            Err(r) => {
                if std::env::var_os("SOUNDNESS_VERBOSE").is_some() {
                    println!("{}", r.headline());
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let mut msg = String::new();
    write!(
        msg,
        "{} of {} generated programs accepted",
        accepted.get(),
        total.get()
    )
    .unwrap();
    println!("{msg}");
    assert!(
        accepted.get() * 5 >= total.get(),
        "the generator should produce mostly verifiable programs: {msg}"
    );
}
