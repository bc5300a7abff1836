//! Shared helpers for the JIT's integration tests: build programs from
//! `Op`s, link them against test helpers, compile and run.
#![allow(dead_code)]

pub mod diff;
pub mod programs;

use capscope_bytecode::abi::helpers::HelperFn;
use capscope_bytecode::insn::{
    AluOp, HelperId, Insn, JmpCond, MapIdx, Op, Operand, Reg, Size, Width,
};
use capscope_jit::host::HostCodeMemory;
use capscope_jit::{JitError, JitProgram, Linker, Options};
use capscope_verifier::Facts;

/// Encode ops into slots.
pub fn slots(ops: &[Op]) -> Vec<Insn> {
    ops.iter()
        .flat_map(|op| {
            let (enc, n) = op.encode();
            enc[..n].to_vec()
        })
        .collect()
}

pub fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

pub fn alu64(op: AluOp, dst: u8, src: Operand) -> Op {
    Op::Alu {
        width: Width::W64,
        op,
        dst: r(dst),
        src,
    }
}

pub fn alu32(op: AluOp, dst: u8, src: Operand) -> Op {
    Op::Alu {
        width: Width::W32,
        op,
        dst: r(dst),
        src,
    }
}

pub fn imm(v: i32) -> Operand {
    Operand::Imm(v)
}

pub fn reg(n: u8) -> Operand {
    Operand::Reg(r(n))
}

pub fn mov64(dst: u8, v: i32) -> Op {
    alu64(AluOp::Mov, dst, imm(v))
}

pub fn lddw(dst: u8, v: u64) -> Op {
    Op::LoadImm64 {
        kind: capscope_bytecode::insn::LoadImmKind::Imm64,
        dst: r(dst),
        imm_lo: v as u32 as i32,
        imm_hi: (v >> 32) as u32 as i32,
    }
}

pub fn jmp(width: Width, cond: JmpCond, dst: u8, src: Operand, off: i16) -> Op {
    Op::Jmp {
        width,
        cond,
        dst: r(dst),
        src,
        off,
    }
}

pub fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Op {
    Op::Load {
        size,
        signed: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}

pub fn stx(size: Size, dst: u8, off: i16, src: u8) -> Op {
    Op::Store {
        size,
        dst: r(dst),
        off,
        src: reg(src),
    }
}

/// A linker with fixed map handles `0x1000 + 16 * idx` for `maps` maps and
/// the given helpers.
pub struct TestLinker {
    pub maps: u32,
    pub helpers: Vec<(HelperId, HelperFn)>,
}

impl Linker for TestLinker {
    fn map_handle(&self, idx: MapIdx) -> Option<u64> {
        (idx.0 < self.maps).then(|| 0x1000 + 16 * u64::from(idx.0))
    }

    fn helper(&self, id: HelperId) -> Option<HelperFn> {
        self.helpers.iter().find(|(h, _)| *h == id).map(|&(_, f)| f)
    }
}

pub fn no_links() -> TestLinker {
    TestLinker {
        maps: 0,
        helpers: Vec::new(),
    }
}

pub fn compile_with(
    ops: &[Op],
    facts: Option<Facts>,
    linker: &dyn Linker,
    opts: &Options,
) -> Result<JitProgram, JitError> {
    let s = slots(ops);
    let facts = facts.unwrap_or_else(|| Facts::conservative(s.len()));
    capscope_jit::compile(&s, &facts, linker, &mut HostCodeMemory, opts)
}

/// Run on both the interpreter and the JIT (no maps) and return the r0
/// they agree on.
pub fn run_ctx(ops: &[Op], ctx: &[u8]) -> u64 {
    match diff::differential(&slots(ops), None, &[], ctx) {
        Ok(a) => a.r0,
        Err(trap) => panic!("the interpreter trapped: {trap:?}\n{ops:#?}"),
    }
}

/// Compile with no maps or helpers and run on an empty context.
pub fn run(ops: &[Op]) -> u64 {
    run_ctx(ops, &[0u8; 8])
}
