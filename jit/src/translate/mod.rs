//! eBPF → Cranelift IR.
//!
//! [`Program::analyze`] decodes the slots once and marks block leaders (jump
//! and local-call targets, call continuations), validating every target.
//! [`translate`] then walks only what is reachable from the entry: a
//! worklist of `(frame, slot)` block starts, each translated straight-line
//! until a jump, an exit, or the next leader. Branches the verifier decided
//! become unconditional, so their dead side is never even visited.
//!
//! Local calls are inlined: each call site gets a new [`Frame`] (its own
//! variables for r0–r10, its own 512-byte stack slot and its own block map),
//! and the callee's `exit` jumps back to the caller's continuation. The
//! instruction budget in [`Options::max_insns`] bounds the growth.
//!
//! Instruction semantics live in [`alu`] (arithmetic, swaps, sign
//! extension, conditions) and [`mem`] (loads, stores, atomics, `lddw`);
//! calls in [`call`].

mod alu;
mod call;
mod mem;
mod track;

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;

use capscope_bytecode::insn::{
    CallTarget, Insn, InsnIdx, Op, Operand, ProgramErrorKind, Reg, STACK_SIZE, decode_program,
};
use capscope_verifier::{Branch, Facts};
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    AbiParam, Block, Function, InstBuilder, MemFlagsData, SigRef, Signature, StackSlot,
    StackSlotData, StackSlotKind, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

use crate::error::{JitError, Result};
use crate::linker::Linker;
use crate::{MAX_CALL_DEPTH, Options};

/// A decoded program with its block structure and facts.
pub(crate) struct Program<'a> {
    /// One entry per slot; `None` for the second half of an `lddw`.
    ops: Vec<Option<Op>>,
    /// Slots where a basic block must start.
    leader: Vec<bool>,
    /// Every jump goes forward and there are no local calls, so blocks can
    /// be sealed as soon as translation reaches them.
    forward_only: bool,
    /// Whether any instruction names r10; if none does, no frame needs its
    /// 512-byte stack slot, and leaf programs get no stack frame at all.
    uses_fp: bool,
    /// Whether any instruction writes r10 (the verifier refuses that, but
    /// the translation does not rely on it: see [`Translator::get`]).
    writes_fp: bool,
    facts: &'a Facts,
}

impl<'a> Program<'a> {
    /// Decode, size-check and find the block leaders.
    pub(crate) fn analyze(slots: &[Insn], facts: &'a Facts, opts: &Options) -> Result<Program<'a>> {
        if slots.is_empty() {
            return Err(JitError::Empty);
        }
        if slots.len() > opts.max_insns {
            return Err(JitError::TooLarge {
                insns: slots.len(),
                max: opts.max_insns,
            });
        }
        if facts.insns.len() != slots.len() {
            return Err(JitError::FactsMismatch {
                slots: slots.len(),
                facts: facts.insns.len(),
            });
        }
        let decoded = decode_program(slots).map_err(|e| match e.error {
            ProgramErrorKind::Decode(_) | ProgramErrorKind::TruncatedInsn { .. } => {
                JitError::Decode(e)
            }
        })?;
        let mut ops = vec![None; slots.len()];
        for &(InsnIdx(i), op) in &decoded {
            ops[i as usize] = Some(op);
        }
        let mut leader = vec![false; slots.len()];
        leader[0] = true;
        // Whether every jump goes forward and no function is called: then
        // a block's predecessors all come before it in program order.
        let mut forward_only = true;
        let target = |pc: usize, off: i64| -> Result<usize> {
            let t = pc as i64 + 1 + off;
            match usize::try_from(t)
                .ok()
                .filter(|&t| matches!(ops.get(t), Some(Some(_))))
            {
                Some(t) => Ok(t),
                None => Err(JitError::BadJump {
                    at: InsnIdx(pc as u32),
                }),
            }
        };
        for &(InsnIdx(pc), op) in &decoded {
            let pc = pc as usize;
            match op {
                Op::Ja { off, .. } => {
                    leader[target(pc, i64::from(off))?] = true;
                    forward_only &= off >= 0;
                }
                Op::Jmp { off, .. } => {
                    leader[target(pc, i64::from(off))?] = true;
                    forward_only &= off >= 0;
                }
                Op::Call(CallTarget::Local(off)) => {
                    forward_only = false;
                    leader[target(pc, i64::from(off))?] = true;
                    // The continuation is entered from the callee's exits.
                    if let Some(next) = leader.get_mut(pc + 1) {
                        *next = true;
                    }
                }
                _ => {}
            }
        }
        let uses_fp = decoded.iter().any(|&(_, op)| mentions_fp(op));
        let writes_fp = decoded.iter().any(|&(_, op)| writes(op) == Some(Reg::FP));
        Ok(Program {
            ops,
            leader,
            forward_only,
            uses_fp,
            writes_fp,
            facts,
        })
    }

    fn len(&self) -> usize {
        self.ops.len()
    }

    /// The decoded target of the jump at `pc` (validated in `analyze`).
    fn target(pc: usize, off: i64) -> usize {
        (pc as i64 + 1 + off) as usize
    }

    fn reachable(&self, pc: usize) -> bool {
        self.facts.insns.get(pc).is_none_or(|f| f.reachable)
    }

    /// What the facts say about the conditional jump at `pc` to `target`.
    /// A side the verifier found unreachable counts as never taken.
    fn branch(&self, pc: usize, target: usize) -> Branch {
        match self.facts.insns[pc].branch {
            Branch::Unknown => match (self.reachable(target), self.reachable(pc + 1)) {
                (false, true) => Branch::NeverTaken,
                (true, false) => Branch::AlwaysTaken,
                _ => Branch::Unknown,
            },
            decided => decided,
        }
    }
}

/// Whether `op` reads or writes r10.
fn mentions_fp(op: Op) -> bool {
    let fp = |r: Reg| r == Reg::FP;
    let operand = |o: Operand| matches!(o, Operand::Reg(r) if r == Reg::FP);
    match op {
        Op::Alu { dst, src, .. } => fp(dst) || operand(src),
        Op::Jmp { dst, src, .. } => fp(dst) || operand(src),
        Op::Store { dst, src, .. } => fp(dst) || operand(src),
        Op::Neg { dst, .. } | Op::Swap { dst, .. } | Op::LoadImm64 { dst, .. } => fp(dst),
        Op::MovSx { dst, src, .. } | Op::Load { dst, src, .. } | Op::Atomic { dst, src, .. } => {
            fp(dst) || fp(src)
        }
        Op::Ja { .. } | Op::Call(_) | Op::Exit => false,
    }
}

/// The register `op` writes besides r0 and those a call clobbers.
fn writes(op: Op) -> Option<Reg> {
    match op {
        Op::Alu { dst, .. }
        | Op::Neg { dst, .. }
        | Op::MovSx { dst, .. }
        | Op::Swap { dst, .. }
        | Op::LoadImm64 { dst, .. }
        | Op::Load { dst, .. } => Some(dst),
        Op::Atomic { src, .. } => Some(src),
        Op::Store { .. } | Op::Jmp { .. } | Op::Ja { .. } | Op::Call(_) | Op::Exit => None,
    }
}

/// One activation of a (possibly inlined) function.
struct Frame {
    /// r0–r10 of this activation.
    regs: [Variable; Reg::COUNT],
    /// Its 512-byte stack, if the program uses r10.
    slot: Option<StackSlot>,
    /// The Cranelift block for each slot that starts one here.
    blocks: Vec<Option<Block>>,
    /// The caller's frame and the slot to continue at, for local calls.
    ret: Option<(usize, usize)>,
    /// 1 for the main program.
    depth: usize,
}

/// Translation state for one program.
pub(crate) struct Translator<'a, 'b> {
    b: FunctionBuilder<'b>,
    prog: &'a Program<'a>,
    linker: &'a dyn Linker,
    opts: &'a Options,
    call_conv: CallConv,
    frames: Vec<Frame>,
    /// Block starts still to translate, smallest `(frame, slot)` first, so
    /// the layout follows program order and fall-through stays fall-through.
    work: BinaryHeap<Reverse<(usize, usize, Block)>>,
    /// Instructions translated so far, inlined copies included.
    budget: usize,
    /// Helper signatures by arity.
    sigs: BTreeMap<usize, SigRef>,
    /// What is known about values within the current block.
    track: track::Track,
    /// The CPU index the program was called with (for per-CPU arrays).
    cpu: Value,
    /// The frame being translated.
    cur: usize,
    /// The instruction being translated, for error messages.
    at: InsnIdx,
}

/// Flags for program memory accesses: the verifier proved them in bounds,
/// so they cannot fault (no trap metadata); alignment is not assumed.
fn mem_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Build `func` from `prog`.
pub(crate) fn translate(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    prog: &Program<'_>,
    linker: &dyn Linker,
    opts: &Options,
    frontend: TargetFrontendConfig,
) -> Result<()> {
    let call_conv = frontend.default_call_conv;
    // `JitFn`: (ctx, cpu) -> r0.
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    sig.returns.push(AbiParam::new(I64));
    *func = Function::with_name_signature(UserFuncName::default(), sig);
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let (ctx, cpu) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let mut t = Translator {
        b,
        prog,
        linker,
        opts,
        call_conv,
        frames: Vec::new(),
        work: BinaryHeap::new(),
        budget: 0,
        sigs: BTreeMap::new(),
        track: track::Track::new(),
        cpu,
        cur: 0,
        at: InsnIdx(0),
    };
    let main = t.new_frame(None, 1);
    let zero = t.b.ins().iconst(I64, 0);
    let fp = t.frame_pointer(main);
    let regs = t.frames[main].regs;
    for (i, var) in regs.into_iter().enumerate() {
        // The interpreter traps on reads of r0 and r2-r9 before they are
        // written, so a verified program never sees these zeros; defining
        // them keeps the IR free of undefined uses.
        let v = match i {
            1 => ctx,
            10 => fp,
            _ => zero,
        };
        t.b.def_var(var, v);
    }
    let first = t.block_for(main, 0);
    t.b.ins().jump(first, &[]);
    while let Some(Reverse((frame, pc, block))) = t.work.pop() {
        t.translate_block(frame, pc, block)?;
    }
    t.b.seal_all_blocks();
    t.b.finalize(frontend);
    Ok(())
}

impl Translator<'_, '_> {
    fn new_frame(&mut self, ret: Option<(usize, usize)>, depth: usize) -> usize {
        let regs = core::array::from_fn(|_| self.b.declare_var(I64));
        self.frames.push(Frame {
            regs,
            slot: None,
            blocks: vec![None; self.prog.len()],
            ret,
            depth,
        });
        self.frames.len() - 1
    }

    /// A new 512-byte stack slot for `frame`, and the address one past its
    /// end (r10).
    fn frame_pointer(&mut self, frame: usize) -> cranelift_codegen::ir::Value {
        if !self.prog.uses_fp {
            // Nothing reads r10; any constant will do.
            return self.b.ins().iconst(I64, 0);
        }
        // Aligned to 16 so every naturally aligned eBPF access is aligned
        // natively too.
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            STACK_SIZE as u32,
            4,
        ));
        self.frames[frame].slot = Some(slot);
        self.b.ins().stack_addr(I64, slot, STACK_SIZE as i32)
    }

    /// The block starting at `pc` in `frame`, queued for translation the
    /// first time it is asked for.
    fn block_for(&mut self, frame: usize, pc: usize) -> Block {
        if let Some(b) = self.frames[frame].blocks[pc] {
            return b;
        }
        let b = self.b.create_block();
        self.frames[frame].blocks[pc] = Some(b);
        self.work.push(Reverse((frame, pc, b)));
        b
    }

    fn var(&self, r: Reg) -> Variable {
        self.frames[self.cur].regs[r.index()]
    }

    /// Read an eBPF register of the current frame.
    ///
    /// r10 is computed afresh where it is read (`lea` off the stack
    /// pointer, usually folded into the access), not carried in a value
    /// from the entry: a value live across a helper call needs a
    /// callee-saved register, which Cranelift saves in the prologue and
    /// restores in every epilogue, so every path, the early exits included,
    /// would pay for it.
    fn get(&mut self, r: Reg) -> cranelift_codegen::ir::Value {
        if r == Reg::FP
            && !self.prog.writes_fp
            && let Some(slot) = self.frames[self.cur].slot
        {
            return self.b.ins().stack_addr(I64, slot, STACK_SIZE as i32);
        }
        let v = self.var(r);
        self.b.use_var(v)
    }

    /// The address `reg` holds after the instruction being translated, as
    /// a fresh `stack_addr`, if the facts (already stepped past it) say it
    /// is the current frame's r10 plus a constant inside the frame.
    fn frame_address(&mut self, reg: Reg) -> Option<cranelift_codegen::ir::Value> {
        let off = self.track.reg(reg).frame_off?;
        let slot = self.frames[self.cur].slot?;
        let at = i32::try_from(STACK_SIZE as i64 + off)
            .ok()
            .filter(|&a| (0..=STACK_SIZE as i32).contains(&a))?;
        if self.prog.writes_fp {
            return None;
        }
        Some(self.b.ins().stack_addr(I64, slot, at))
    }

    /// Write an eBPF register of the current frame. (What is known about
    /// the value is [`track`]'s business.)
    fn set(&mut self, r: Reg, val: cranelift_codegen::ir::Value) {
        let v = self.var(r);
        self.b.def_var(v, val);
    }

    /// Translate straight-line code from the leader `start` until control
    /// leaves it.
    fn translate_block(&mut self, frame: usize, start: usize, block: Block) -> Result<()> {
        self.b.switch_to_block(block);
        // Blocks are translated in program order, so with forward jumps
        // only, every predecessor of this one is already translated.
        // Sealing it now lets the SSA builder resolve each variable read
        // at once instead of keeping a placeholder parameter per variable
        // until the end.
        if self.prog.forward_only {
            self.b.seal_block(block);
        }
        self.cur = frame;
        self.track.reset();
        let mut pc = start;
        loop {
            if pc >= self.prog.len() {
                return Err(JitError::FallsOffEnd { at: self.at });
            }
            if pc != start && self.prog.leader[pc] {
                let next = self.block_for(frame, pc);
                self.b.ins().jump(next, &[]);
                return Ok(());
            }
            self.at = InsnIdx(pc as u32);
            // Fall-through only ever lands on the first slot of an
            // instruction, and targets were validated, so this is `Some`.
            let op = self.prog.ops[pc].ok_or(JitError::BadJump { at: self.at })?;
            self.budget += 1;
            if self.budget > self.opts.max_insns {
                return Err(JitError::TooLarge {
                    insns: self.budget,
                    max: self.opts.max_insns,
                });
            }
            // Calls update the facts themselves (an inlined lookup knows
            // its result); everything else is modelled from the facts
            // before it, which translating it does not read.
            if !matches!(op, Op::Call(_)) {
                self.track.step(op);
            }
            match op {
                Op::Alu {
                    width,
                    op,
                    dst,
                    src,
                } => self.alu(width, op, dst, src),
                Op::Neg { width, dst } => self.neg(width, dst),
                Op::MovSx {
                    width,
                    dst,
                    src,
                    bits,
                } => self.movsx(width, dst, src, bits),
                Op::Swap { order, dst, bits } => self.swap(order, dst, bits),
                Op::LoadImm64 {
                    kind,
                    dst,
                    imm_lo,
                    imm_hi,
                } => self.load_imm64(kind, dst, imm_lo, imm_hi)?,
                Op::Load {
                    size,
                    signed,
                    dst,
                    src,
                    off,
                } => self.load(size, signed, dst, src, off),
                Op::Store {
                    size,
                    dst,
                    off,
                    src,
                } => self.store(size, dst, off, src),
                Op::Atomic {
                    size,
                    op,
                    dst,
                    off,
                    src,
                } => self.atomic(size, op, dst, off, src),
                Op::Call(CallTarget::Helper(id)) => self.call_helper(id)?,
                Op::Call(CallTarget::Local(off)) => {
                    let target = Program::target(pc, i64::from(off));
                    return self.call_local(pc, target);
                }
                Op::Call(CallTarget::Btf(_)) => {
                    return Err(JitError::Unsupported {
                        at: self.at,
                        what: crate::Unsupported::BtfCall,
                    });
                }
                Op::Ja { off, .. } => {
                    let target = Program::target(pc, i64::from(off));
                    let next = self.block_for(frame, target);
                    self.b.ins().jump(next, &[]);
                    return Ok(());
                }
                Op::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off,
                } => {
                    let target = Program::target(pc, i64::from(off));
                    let decided = match self.prog.branch(pc, target) {
                        Branch::Unknown => self.track.decide(width, cond, dst, src),
                        known => known,
                    };
                    match decided {
                        Branch::NeverTaken => {}
                        Branch::AlwaysTaken => {
                            let next = self.block_for(frame, target);
                            self.b.ins().jump(next, &[]);
                            return Ok(());
                        }
                        Branch::Unknown => {
                            let c = self.condition(width, cond, dst, src);
                            let taken = self.block_for(frame, target);
                            let fall = self.block_for(frame, pc + 1);
                            self.b.ins().brif(c, taken, &[], fall, &[]);
                            return Ok(());
                        }
                    }
                }
                Op::Exit => {
                    self.exit();
                    return Ok(());
                }
            }
            pc += op.slots();
        }
    }

    /// `exit`: return r0 from the program, or from an inlined function to
    /// its caller's continuation.
    fn exit(&mut self) {
        let r0 = self.get(Reg::R0);
        match self.frames[self.cur].ret {
            None => {
                self.b.ins().return_(&[r0]);
            }
            Some((caller, ret_pc)) => {
                let caller_r0 = self.frames[caller].regs[0];
                self.b.def_var(caller_r0, r0);
                let cont = self.block_for(caller, ret_pc);
                self.b.ins().jump(cont, &[]);
            }
        }
    }

    /// Inline a local call: a new frame whose r0–r5 start as the caller's
    /// (the interpreter shares them), with its own stack.
    fn call_local(&mut self, pc: usize, target: usize) -> Result<()> {
        let depth = self.frames[self.cur].depth + 1;
        if depth > MAX_CALL_DEPTH {
            return Err(JitError::CallDepth { at: self.at });
        }
        if pc + 1 >= self.prog.len() {
            return Err(JitError::FallsOffEnd { at: self.at });
        }
        let caller = self.cur;
        let callee = self.new_frame(Some((caller, pc + 1)), depth);
        let fp = self.frame_pointer(callee);
        for i in 0..=5 {
            let v = self.b.use_var(self.frames[caller].regs[i]);
            self.b.def_var(self.frames[callee].regs[i], v);
        }
        // r6-r9 must be written before the callee reads them.
        let zero = self.b.ins().iconst(I64, 0);
        for i in 6..=9 {
            self.b.def_var(self.frames[callee].regs[i], zero);
        }
        self.b.def_var(self.frames[callee].regs[10], fp);
        let entry = self.block_for(callee, target);
        self.b.ins().jump(entry, &[]);
        Ok(())
    }
}
