//! The benchmark programs, each as eBPF `Op`s and as the same logic in
//! hand-written Rust, plus the glue every engine needs: a model environment,
//! a JIT linker over it, and rbpf's view of the same bytecode.
#![allow(dead_code)]

use std::hint::black_box;

use capscope_bytecode::abi::context::{EventHeader, SyscallEnterCtx};
use capscope_bytecode::abi::helpers::{HelperFn, id};
use capscope_bytecode::insn::{
    AluOp, CallTarget, HelperId, Insn, JmpCond, LoadImmKind, MapIdx, Op, Operand, Reg, Size, Width,
};
use capscope_bytecode::model::{EventState, ModelEnv, native};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use zerocopy::IntoBytes;

pub fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
fn alu(op: AluOp, dst: u8, src: Operand) -> Op {
    Op::Alu {
        width: Width::W64,
        op,
        dst: r(dst),
        src,
    }
}
fn k(v: i32) -> Operand {
    Operand::Imm(v)
}
fn x(n: u8) -> Operand {
    Operand::Reg(r(n))
}
fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Op {
    Op::Load {
        size,
        signed: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}
fn jmp(cond: JmpCond, dst: u8, src: Operand, off: i16) -> Op {
    Op::Jmp {
        width: Width::W64,
        cond,
        dst: r(dst),
        src,
        off,
    }
}
fn map(dst: u8, idx: u32) -> Op {
    Op::LoadImm64 {
        kind: LoadImmKind::Map,
        dst: r(dst),
        imm_lo: idx as i32,
        imm_hi: 0,
    }
}
fn call(h: HelperId) -> Op {
    Op::Call(CallTarget::Helper(h))
}

pub mod fast;

/// The helpers a native version calls: the same ones the engines call.
#[derive(Clone, Copy)]
pub struct Helpers {
    pub lookup: HelperFn,
    pub update: HelperFn,
}

pub const MODEL_HELPERS: Helpers = Helpers {
    lookup: native::map_lookup_elem,
    update: native::map_update_elem,
};

pub const FAST_HELPERS: Helpers = Helpers {
    lookup: fast::fast_lookup,
    update: fast::fast_update,
};

pub fn slots(ops: &[Op]) -> Vec<Insn> {
    ops.iter()
        .flat_map(|op| {
            let (e, n) = op.encode();
            e[..n].to_vec()
        })
        .collect()
}

// Context offsets of `SyscallEnterCtx`.
const TS: i16 = 0;
const TASK: i16 = 12;
const NR: i16 = 24;
const ARG0: i16 = 32;
const ARG1: i16 = 40;

/// The 20-instruction context arithmetic program of ANCHORS.md: 5 context
/// loads, arithmetic, 2 branches.
pub fn ctx_arith() -> Vec<Op> {
    vec![
        ldx(Size::DW, 2, 1, NR),
        ldx(Size::DW, 3, 1, ARG0),
        ldx(Size::DW, 4, 1, ARG1),
        ldx(Size::W, 5, 1, TASK),
        ldx(Size::DW, 6, 1, TS),
        alu(AluOp::Mov, 0, x(3)),
        alu(AluOp::Add, 0, x(4)),
        alu(AluOp::Mul, 0, k(3)),
        jmp(JmpCond::Gt, 2, k(400), 3),
        alu(AluOp::Xor, 0, x(5)),
        alu(AluOp::Rsh, 6, k(10)),
        alu(AluOp::Add, 0, x(6)),
        alu(AluOp::Lsh, 0, k(1)),
        jmp(JmpCond::Eq, 5, k(0), 3),
        alu(AluOp::Sub, 0, x(2)),
        alu(AluOp::And, 0, k(0xffff)),
        alu(AluOp::Or, 0, k(7)),
        alu(AluOp::Add, 0, x(5)),
        alu(AluOp::Rsh, 0, k(1)),
        Op::Exit,
    ]
}

#[inline(never)]
pub fn ctx_arith_native(c: &SyscallEnterCtx) -> u64 {
    let (nr, a0, a1) = (c.nr, c.arg0, c.arg1);
    let task = u64::from(c.header.task);
    let mut ts = c.header.timestamp_ns;
    let mut r0 = a0.wrapping_add(a1).wrapping_mul(3);
    if nr <= 400 {
        r0 ^= task;
        ts >>= 10;
        r0 = r0.wrapping_add(ts);
    }
    r0 <<= 1;
    if task != 0 {
        r0 = r0.wrapping_sub(nr);
        r0 &= 0xffff;
        r0 |= 7;
    }
    r0 = r0.wrapping_add(task);
    r0 >> 1
}

/// `@[task] = count()`: look the task's counter up and add 1, or insert 1
/// on a miss. The add is a plain load/add/store, as for a per-CPU map,
/// because rbpf 0.4 supports no atomic instructions (the language emits
/// `lock add`; the JIT's cost for it is one `lock add` instruction).
pub fn count() -> Vec<Op> {
    let mut ops = vec![
        ldx(Size::W, 2, 1, TASK),
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -8,
            src: x(2),
        },
    ];
    // A miss skips the 5 instructions of the hit path.
    ops.extend(lookup_add_one(-8, 5));
    ops.extend([
        // miss: insert 1
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -16,
            src: k(1),
        },
        map(1, 0),
        alu(AluOp::Mov, 2, x(10)),
        alu(AluOp::Add, 2, k(-8)),
        alu(AluOp::Mov, 3, x(10)),
        alu(AluOp::Add, 3, k(-16)),
        alu(AluOp::Mov, 4, k(0)),
        call(id::MAP_UPDATE_ELEM),
        alu(AluOp::Mov, 0, k(0)),
        Op::Exit,
    ]);
    ops
}

/// Look up the key at `r10 + key` in map 0 and add 1 to the value in place
/// (plain load, add and store: rbpf 0.4 has no atomics); on a miss, jump
/// `miss` instructions past the branch. A hit returns 0.
fn lookup_add_one(key: i32, miss: i16) -> Vec<Op> {
    vec![
        map(1, 0),
        alu(AluOp::Mov, 2, x(10)),
        alu(AluOp::Add, 2, k(key)),
        call(id::MAP_LOOKUP_ELEM),
        jmp(JmpCond::Eq, 0, k(0), miss),
        ldx(Size::DW, 1, 0, 0),
        alu(AluOp::Add, 1, k(1)),
        Op::Store {
            size: Size::DW,
            dst: r(0),
            off: 0,
            src: x(1),
        },
        alu(AluOp::Mov, 0, k(0)),
        Op::Exit,
    ]
}

#[inline(never)]
pub fn count_native(c: &SyscallEnterCtx, map: u64, h: &Helpers) -> u64 {
    let key = u64::from(c.header.task);
    // SAFETY: `map` is a handle of the environment the helpers act on and
    // the pointers are to locals of the right sizes.
    unsafe {
        let v = (h.lookup)(map, &key as *const u64 as u64, 0, 0, 0);
        if v != 0 {
            *(v as *mut u64) += 1;
        } else {
            let one = 1u64;
            (h.update)(
                map,
                &key as *const u64 as u64,
                &one as *const u64 as u64,
                0,
                0,
            );
        }
    }
    0
}

/// `@h = hist(arg0)`: the log2 bucket of arg0 (bpftrace's branchy binary
/// search), then count() into an array map of 65 buckets.
pub fn hist() -> Vec<Op> {
    let mut ops = vec![
        ldx(Size::DW, 2, 1, ARG0),
        alu(AluOp::Mov, 3, k(0)),
        jmp(JmpCond::Eq, 2, k(0), 31), // bucket 0 for 0 → store
        alu(AluOp::Mov, 3, k(1)),
    ];
    // For each step s in 32,16,8,4,2,1: if v >= 1 << s { v >>= s; b += s }
    for s in [32, 16, 8, 4, 2, 1] {
        ops.extend([
            Op::LoadImm64 {
                kind: LoadImmKind::Imm64,
                dst: r(4),
                imm_lo: 0,
                imm_hi: 0,
            },
            jmp(JmpCond::Lt, 2, x(4), 2),
            alu(AluOp::Rsh, 2, k(s)),
            alu(AluOp::Add, 3, k(s)),
        ]);
        // lddw's value: 1 << s
        let i = ops.len() - 4;
        let v = 1u64 << s;
        ops[i] = Op::LoadImm64 {
            kind: LoadImmKind::Imm64,
            dst: r(4),
            imm_lo: v as u32 as i32,
            imm_hi: (v >> 32) as u32 as i32,
        };
    }
    ops.extend([
        // b is in 1..=64 for v != 0
        Op::Store {
            size: Size::W,
            dst: Reg::FP,
            off: -4,
            src: x(3),
        },
    ]);
    // A miss skips the 3 instructions of the add, to return 0.
    ops.extend(lookup_add_one(-4, 3));
    ops
}

#[inline(never)]
pub fn hist_native(c: &SyscallEnterCtx, map: u64, h: &Helpers) -> u64 {
    let mut v = c.arg0;
    let mut b: u32 = 0;
    if v != 0 {
        b = 1;
        for s in [32, 16, 8, 4, 2, 1] {
            if v >= 1 << s {
                v >>= s;
                b += s;
            }
        }
    }
    // SAFETY: as in `count_native`.
    unsafe {
        let p = (h.lookup)(map, &b as *const u32 as u64, 0, 0, 0);
        if p != 0 {
            *(p as *mut u64) += 1;
        }
    }
    0
}

/// `/task == 5 && arg0 > 100/ { @c = count() }` on an event that fails the
/// first test: the cost of a probe that rejects.
pub fn predicate() -> Vec<Op> {
    let mut ops = vec![
        ldx(Size::W, 2, 1, TASK),
        jmp(JmpCond::Ne, 2, k(5), 2),
        ldx(Size::DW, 3, 1, ARG0),
        jmp(JmpCond::Gt, 3, k(100), 2),
        alu(AluOp::Mov, 0, k(0)),
        Op::Exit,
    ];
    // The accepted path: the count() body.
    ops.extend(count().into_iter().skip(1).map(|op| match op {
        Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -8,
            src: Operand::Reg(_),
        } => Op::Store {
            size: Size::DW,
            dst: Reg::FP,
            off: -8,
            src: x(2),
        },
        op => op,
    }));
    ops
}

#[inline(never)]
pub fn predicate_native(c: &SyscallEnterCtx, map: u64, h: &Helpers) -> u64 {
    if c.header.task != 5 || c.arg0 <= 100 {
        return 0;
    }
    count_native(c, map, h)
}

/// 50 instructions: the count() body after 29 instructions of context
/// arithmetic with branches, like a probe with a predicate and a key
/// computation.
pub fn fifty() -> Vec<Op> {
    let mut ops = ctx_arith();
    ops.pop(); // exit
    ops.extend([
        Op::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: r(0),
            src: Operand::Reg(r(6)),
        },
        Op::Jmp {
            width: Width::W64,
            cond: JmpCond::Sgt,
            dst: r(0),
            src: Operand::Imm(1000),
            off: 2,
        },
        Op::Alu {
            width: Width::W32,
            op: AluOp::Mul,
            dst: r(0),
            src: Operand::Imm(7),
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Div,
            dst: r(0),
            src: Operand::Reg(r(3)),
        },
        Op::Store {
            size: Size::DW,
            dst: r(10),
            off: -24,
            src: Operand::Reg(r(0)),
        },
        Op::Load {
            size: Size::W,
            signed: false,
            dst: r(7),
            src: r(10),
            off: -24,
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: r(7),
            src: Operand::Reg(r(4)),
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Lsh,
            dst: r(7),
            src: Operand::Imm(3),
        },
        Op::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: r(1),
            src: Operand::Reg(r(1)),
        },
    ]);
    ops.extend(count());
    ops
}

/// A context for the benchmarks: task 7 (so the predicate rejects), nr 12,
/// arg0 = 123456 (bucket 17).
pub fn context() -> SyscallEnterCtx {
    SyscallEnterCtx {
        header: EventHeader {
            timestamp_ns: 1_000_000_123,
            cpu: 0,
            task: 7,
            thread: 7,
            _reserved: 0,
        },
        nr: 12,
        arg0: 123_456,
        arg1: 77,
        arg2: 0,
        arg3: 0,
        arg4: 0,
        arg5: 0,
    }
}

pub fn ctx_bytes(c: &SyscallEnterCtx) -> &[u8] {
    c.as_bytes()
}

pub fn def(name: &str, kind: MapKind, key: u32, value: u32, max: u32) -> MapDef {
    MapDef {
        name: name.into(),
        kind,
        key_size: key,
        value_size: value,
        max_entries: max,
        display: MapDisplay::default(),
    }
}

/// The maps each program uses (map 0).
pub fn maps_for(name: &str) -> Vec<MapDef> {
    match name {
        "hist" => vec![def("@h", MapKind::Array, 4, 8, 65)],
        _ => vec![def("@c", MapKind::Hash, 8, 8, 1024)],
    }
}

pub fn model(name: &str) -> ModelEnv {
    ModelEnv::new(&maps_for(name), EventState::default())
}

pub use capscope_jit::host::ModelLinker;

/// The same bytecode for rbpf: `lddw map[N]` resolved to the constant
/// handle, as any loader does (rbpf has no map relocation of its own).
pub fn rbpf_bytes(ops: &[Op], handle: impl Fn(MapIdx) -> Option<u64>) -> Vec<u8> {
    let resolved: Vec<Op> = ops
        .iter()
        .map(|&op| match op {
            Op::LoadImm64 {
                kind: LoadImmKind::Map,
                dst,
                imm_lo,
                ..
            } => {
                let h = handle(MapIdx(imm_lo as u32)).unwrap();
                Op::LoadImm64 {
                    kind: LoadImmKind::Imm64,
                    dst,
                    imm_lo: h as u32 as i32,
                    imm_hi: (h >> 32) as u32 as i32,
                }
            }
            op => op,
        })
        .collect();
    capscope_bytecode::insn::slots_to_bytes(&slots(&resolved))
}

// rbpf wants safe Rust-ABI helpers; these forward to the model's shims.
fn rb_lookup(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // SAFETY: the programs pass valid map handles and stack keys.
    unsafe { native::map_lookup_elem(a, b, c, d, e) }
}
fn rb_update(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // SAFETY: as above.
    unsafe { native::map_update_elem(a, b, c, d, e) }
}

/// An rbpf VM for `bytes`, with the model helpers registered and every
/// address allowed (map values live outside rbpf's own regions; the
/// programs are known to be correct).
pub fn rbpf_vm(bytes: &[u8], fast: bool) -> rbpf::EbpfVmRaw<'_> {
    let mut vm = rbpf::EbpfVmRaw::new(Some(bytes)).unwrap();
    let (lookup, update): (rbpf::Helper, rbpf::Helper) = if fast {
        (fast::rb_fast_lookup, fast::rb_fast_update)
    } else {
        (rb_lookup, rb_update)
    };
    vm.register_helper(id::MAP_LOOKUP_ELEM.0, lookup).unwrap();
    vm.register_helper(id::MAP_UPDATE_ELEM.0, update).unwrap();
    vm.register_allowed_memory(0..u64::MAX);
    vm
}

/// Keep the optimizer from seeing through a context reference.
pub fn opaque<T>(t: &T) -> &T {
    black_box(t)
}
