//! The driver: runs the transfer functions over the schedule of
//! [`crate::cfg`], joining states where paths meet and unrolling loops.
//!
//! - **Joins.** States waiting at a block form a small disjunction (at most
//!   [`MAX_STATES_PER_BLOCK`]). A state subsumed by a waiting one is dropped
//!   (its path length folded in); when the set is full, the new state is
//!   joined with one of the same shape (same types everywhere), else with
//!   the last one. So correlated branches keep their precision while a
//!   chain of diamonds costs linear time.
//! - **Loops.** A loop is unrolled: each iteration gets its own states at
//!   the head, computed from the back edges of the previous one, never
//!   joined across iterations. A loop is therefore accepted exactly when
//!   the analysis sees every path leave it, which bounds its trip count.
//!   If an iteration ends in exactly the state it started from, the loop
//!   can repeat forever and is rejected at once; otherwise the rule-9
//!   path-length bound or the step budget ends the analysis.
//! - **Budgets.** Every path carries an upper bound of the instructions it
//!   has executed (joins take the maximum); more than `Options::max_path`
//!   is a rejection (rule 9). The analysis itself stops after
//!   `Options::max_steps` instruction steps, so it always terminates.

use alloc::vec;
use alloc::vec::Vec;

use capscope_bytecode::abi::helpers;
use capscope_bytecode::insn::{CallTarget, InsnIdx, Op, Operand, Reg};

use crate::branch;
use crate::cfg::{Program, Step, jump_target};
use crate::exec::{self, Env};
use crate::facts::{Branch, Facts};
use crate::reject::{RegisterDump, RejectKind, Rejection};
use crate::state::State;
use crate::value::Value;
use crate::{LogLine, Options, Stats};

/// How many distinct states may wait at one block before they are joined.
pub const MAX_STATES_PER_BLOCK: usize = 8;

/// At most this many lines of verifier log are kept.
pub const MAX_LOG_LINES: usize = 200_000;

struct Frame {
    head: u32,
    iter: u64,
    last_input: Option<Vec<State>>,
}

pub(crate) struct Analyzer<'p, 'a> {
    prog: &'p Program<'a>,
    env: Env<'a>,
    opts: &'a Options,
    pending: Vec<Vec<State>>,
    frames: Vec<Frame>,
    pub(crate) steps: u64,
    stored: u64,
    live: u64,
    peak: u64,
    reach: Vec<bool>,
    seen: Vec<u8>,
    pub(crate) log: Option<Vec<LogLine>>,
}

const TAKEN: u8 = 1;
const FALL: u8 = 2;

impl<'p, 'a> Analyzer<'p, 'a> {
    pub(crate) fn new(prog: &'p Program<'a>, env: Env<'a>, opts: &'a Options, steps: u64) -> Self {
        let n = prog.slots.len();
        Analyzer {
            prog,
            env,
            opts,
            pending: vec![Vec::new(); prog.blocks.len()],
            frames: Vec::new(),
            steps,
            stored: 0,
            live: 0,
            peak: 0,
            reach: vec![false; n],
            seen: vec![0; n],
            log: opts.log.then(Vec::new),
        }
    }

    pub(crate) fn run(&mut self) -> Result<(), Rejection> {
        self.add_state(0, State::entry());
        let schedule = &self.prog.schedule;
        let mut i = 0;
        while i < schedule.len() {
            match schedule[i] {
                Step::Visit(b) => {
                    let set = core::mem::take(&mut self.pending[b as usize]);
                    if let Some(f) = self.frames.last_mut()
                        && f.head == b
                        && f.iter >= 1
                        && !set.is_empty()
                    {
                        f.last_input = Some(set.clone());
                    }
                    for s in set {
                        self.live = self.live.saturating_sub(1);
                        self.run_block(b, s)?;
                    }
                }
                Step::LoopBegin { head } => self.frames.push(Frame {
                    head,
                    iter: 0,
                    last_input: None,
                }),
                Step::LoopEnd { begin } => {
                    let Some(f) = self.frames.last_mut() else {
                        i += 1;
                        continue;
                    };
                    let next = &self.pending[f.head as usize];
                    if next.is_empty() {
                        self.frames.pop();
                    } else {
                        if let Some(prev) = &f.last_input
                            && prev.len() == next.len()
                            && prev.iter().zip(next).all(|(a, b)| a.same(b))
                        {
                            let pc = self.prog.blocks[f.head as usize].start as usize;
                            let head = InsnIdx(pc as u32);
                            let st = next[0].clone();
                            return Err(self.reject(pc, &st, RejectKind::InfiniteLoop { head }));
                        }
                        f.iter += 1;
                        i = begin as usize + 1;
                        continue;
                    }
                }
            }
            i += 1;
        }
        Ok(())
    }

    fn run_block(&mut self, b: u32, mut st: State) -> Result<(), Rejection> {
        let prog = self.prog;
        let blk = &prog.blocks[b as usize];
        let n = prog.slots.len();
        let mut pc = blk.start as usize;
        loop {
            let Some(op) = prog.ops[pc] else {
                // Blocks start at instructions and the decoder consumed
                // every second half, so this cannot happen; reject rather
                // than trust it.
                return Err(self.reject(pc, &st, RejectKind::JumpIntoLddw { target: pc as u32 }));
            };
            self.tick(pc, &mut st)?;
            let next = pc + op.slots();
            let r = match op {
                Op::Alu {
                    width,
                    op: o,
                    dst,
                    src,
                } => exec::alu(&mut st, width, o, dst, src),
                Op::Neg { width, dst } => exec::neg(&mut st, width, dst),
                Op::MovSx {
                    width,
                    dst,
                    src,
                    bits,
                } => exec::movsx(&mut st, width, dst, src, bits),
                Op::Swap { order, dst, bits } => exec::swap(&mut st, order, dst, bits),
                Op::LoadImm64 {
                    kind,
                    dst,
                    imm_lo,
                    imm_hi,
                } => exec::load_imm64(&mut st, kind, dst, imm_lo, imm_hi),
                Op::Load {
                    size,
                    signed,
                    dst,
                    src,
                    off,
                } => exec::load(&self.env, &mut st, size, signed, dst, src, off),
                Op::Store {
                    size,
                    dst,
                    off,
                    src,
                } => exec::store(&mut st, size, dst, off, src),
                Op::Atomic {
                    size,
                    op: o,
                    dst,
                    off,
                    src,
                } => exec::atomic(&mut st, size, o, dst, off, src),
                Op::Call(CallTarget::Helper(id)) => {
                    crate::call::call(&self.env, &mut st, InsnIdx(pc as u32), id)
                }
                Op::Call(CallTarget::Local(_)) => Err(RejectKind::LocalCall),
                Op::Call(CallTarget::Btf(_)) => Err(RejectKind::BtfCall),
                Op::Exit => {
                    return exec::exit(&st).map_err(|k| self.reject(pc, &st, k));
                }
                Op::Ja { .. } => {
                    let t = jump_target(pc as u32, &op).unwrap_or(0) as usize;
                    self.add_state(prog.block_at(t), st);
                    return Ok(());
                }
                Op::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    ..
                } => {
                    let t = jump_target(pc as u32, &op).unwrap_or(0) as usize;
                    let edges = branch::branch(st, width, cond, dst, src)
                        .map_err(|(k, s)| self.reject(pc, &s, k))?;
                    if let Some(s) = edges.taken {
                        self.seen[pc] |= TAKEN;
                        self.add_state(prog.block_at(t), s);
                    }
                    if let Some(s) = edges.fall {
                        self.seen[pc] |= FALL;
                        if next >= n {
                            return Err(self.reject(pc, &s, RejectKind::FallsOffEnd));
                        }
                        self.add_state(prog.block_at(next), s);
                    }
                    return Ok(());
                }
            };
            r.map_err(|k| self.reject(pc, &st, k))?;
            if next >= blk.end as usize {
                if next >= n {
                    return Err(self.reject(pc, &st, RejectKind::FallsOffEnd));
                }
                self.add_state(prog.block_at(next), st);
                return Ok(());
            }
            pc = next;
        }
    }

    /// Count one instruction of one state against both budgets.
    fn tick(&mut self, pc: usize, st: &mut State) -> Result<(), Rejection> {
        self.steps += 1;
        if self.steps > self.opts.max_steps {
            let k = RejectKind::Budget {
                processed: self.steps - 1,
            };
            return Err(self.reject(pc, st, k));
        }
        st.path_len += 1;
        if st.path_len > self.opts.max_path {
            let head = self
                .frames
                .last()
                .map(|f| InsnIdx(self.prog.blocks[f.head as usize].start));
            let k = RejectKind::PathTooLong {
                limit: self.opts.max_path,
                head,
            };
            return Err(self.reject(pc, st, k));
        }
        self.reach[pc] = true;
        if let Some(log) = &mut self.log
            && log.len() < MAX_LOG_LINES
        {
            log.push(LogLine {
                insn: InsnIdx(pc as u32),
                state: alloc::format!("{st}"),
            });
        }
        Ok(())
    }

    /// Queue `s` at block `b`, deduplicating and joining (see module docs).
    fn add_state(&mut self, b: u32, mut s: State) {
        s.canonicalize();
        let set = &mut self.pending[b as usize];
        for t in set.iter_mut() {
            if s.is_subset_of(t) {
                t.path_len = t.path_len.max(s.path_len);
                return;
            }
        }
        let before = set.len();
        set.retain(|t| {
            let sub = t.is_subset_of(&s);
            if sub {
                s.path_len = s.path_len.max(t.path_len);
            }
            !sub
        });
        self.live = self.live.saturating_sub((before - set.len()) as u64);
        if set.len() < MAX_STATES_PER_BLOCK {
            set.push(s);
            self.stored += 1;
            self.live += 1;
            self.peak = self.peak.max(self.live);
            return;
        }
        let i = set
            .iter()
            .position(|t| t.shape_eq(&s))
            .unwrap_or(set.len() - 1);
        set[i] = set[i].join(&s);
    }

    fn reject(&self, pc: usize, st: &State, kind: RejectKind) -> Rejection {
        let prog = self.prog;
        let op = prog.ops.get(pc).copied().flatten();
        let width = op.map_or(1, |o| o.slots());
        let slots = prog
            .slots
            .get(pc..(pc + width).min(prog.slots.len()))
            .unwrap_or(&[])
            .to_vec();
        Rejection {
            code: kind.code(),
            insn: InsnIdx(pc as u32),
            slots,
            kind,
            state: op.map_or_else(RegisterDump::default, |o| dump(&o, st)),
            span: None,
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            insns_processed: self.steps,
            states_stored: self.stored,
            peak_states: self.peak,
        }
    }

    pub(crate) fn facts(&self) -> Facts {
        let mut f = Facts::conservative(self.prog.slots.len());
        for (pc, op) in self.prog.ops.iter().enumerate() {
            let Some(op) = op else { continue };
            f.insns[pc].reachable = self.reach[pc];
            if matches!(op, Op::Jmp { .. }) {
                f.insns[pc].branch = match self.seen[pc] {
                    TAKEN => Branch::AlwaysTaken,
                    FALL => Branch::NeverTaken,
                    _ => Branch::Unknown,
                };
            }
        }
        f
    }
}

/// The registers `op` involves, with their values in `st`.
pub(crate) fn dump(op: &Op, st: &State) -> RegisterDump {
    let mut regs: Vec<Reg> = Vec::with_capacity(6);
    fn push(regs: &mut Vec<Reg>, r: Reg) {
        if !regs.contains(&r) {
            regs.push(r)
        }
    }
    let mut add = |r: Reg| push(&mut regs, r);
    match *op {
        Op::Alu { dst, src, .. } | Op::Jmp { dst, src, .. } => {
            add(dst);
            if let Operand::Reg(r) = src {
                add(r);
            }
        }
        Op::Store { dst, src, .. } => {
            add(dst);
            if let Operand::Reg(r) = src {
                add(r);
            }
        }
        Op::Neg { dst, .. } | Op::Swap { dst, .. } => add(dst),
        Op::MovSx { src, .. } | Op::Load { src, .. } => add(src),
        Op::Atomic { dst, src, op, .. } => {
            add(dst);
            add(src);
            if op == capscope_bytecode::insn::AtomicOp::CmpXchg {
                add(Reg::R0);
            }
        }
        Op::Call(CallTarget::Helper(id)) => {
            let n = helpers::find(id).map_or(0, |h| h.args.len());
            for i in 1..=n {
                if let Some(r) = Reg::new(i as u8) {
                    add(r);
                }
            }
        }
        Op::Exit => add(Reg::R0),
        Op::LoadImm64 { .. } | Op::Ja { .. } | Op::Call(_) => {}
    }
    if regs
        .iter()
        .any(|r| matches!(st.reg(*r), Value::Stack { .. }))
    {
        push(&mut regs, Reg::FP);
    }
    regs.sort();
    RegisterDump {
        regs: regs.into_iter().map(|r| (r, st.reg(r).clone())).collect(),
    }
}
