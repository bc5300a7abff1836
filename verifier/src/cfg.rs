//! Rule 1 and the control-flow graph.
//!
//! [`Program::build`] decodes every slot with the one strict decoder
//! (`Op::decode`), checks what can be checked without executing anything
//! (jump targets, map indices, helper numbers, writes to r10), splits the
//! code into basic blocks and orders them for the analysis: a hierarchy of
//! strongly connected components in topological order (Bourdoncle's weak
//! topological order, built with an iterative Tarjan so deep nesting cannot
//! overflow a kernel stack). Every edge in that order goes forward, except
//! edges back to the head of an enclosing loop.

use alloc::vec;
use alloc::vec::Vec;

use capscope_bytecode::insn::{CallTarget, Insn, InsnIdx, LoadImmKind, Op, Reg};
use capscope_bytecode::object::{MapDef, limits};

use crate::reject::RejectKind;

/// A basic block: slots `start..end`, entered only at `start`.
#[derive(Clone, Debug)]
pub struct Block {
    /// First slot.
    pub start: u32,
    /// One past the last slot.
    pub end: u32,
    /// Successor blocks (fall-through first).
    pub succs: Vec<u32>,
}

/// One step of the analysis schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Analyse this block with the states waiting for it.
    Visit(u32),
    /// A loop with this head starts; its body runs to the matching `LoopEnd`.
    LoopBegin {
        /// The head block.
        head: u32,
    },
    /// The loop that began at this schedule index ends here.
    LoopEnd {
        /// Index of the matching `LoopBegin`.
        begin: u32,
    },
}

/// A decoded, statically checked program with its block graph and schedule.
#[derive(Debug)]
pub struct Program<'a> {
    /// The raw slots.
    pub slots: &'a [Insn],
    /// The instruction starting at each slot (`None` for second halves).
    pub ops: Vec<Option<Op>>,
    /// Basic blocks in slot order.
    pub blocks: Vec<Block>,
    /// The analysis order.
    pub schedule: Vec<Step>,
}

/// A static rejection: what and where.
pub type StaticError = (InsnIdx, RejectKind);

fn written_reg(op: &Op) -> Option<Reg> {
    match *op {
        Op::Alu { dst, .. }
        | Op::Neg { dst, .. }
        | Op::MovSx { dst, .. }
        | Op::Swap { dst, .. }
        | Op::LoadImm64 { dst, .. }
        | Op::Load { dst, .. } => Some(dst),
        Op::Atomic { src, op, .. } => match op {
            capscope_bytecode::insn::AtomicOp::CmpXchg => Some(Reg::R0),
            capscope_bytecode::insn::AtomicOp::Xchg => Some(src),
            capscope_bytecode::insn::AtomicOp::Add { fetch }
            | capscope_bytecode::insn::AtomicOp::Or { fetch }
            | capscope_bytecode::insn::AtomicOp::And { fetch }
            | capscope_bytecode::insn::AtomicOp::Xor { fetch } => fetch.then_some(src),
        },
        _ => None,
    }
}

/// The jump target slot of a jump at `pc`.
pub fn jump_target(pc: u32, op: &Op) -> Option<i64> {
    op.jump_offset().map(|off| i64::from(pc) + 1 + off)
}

impl<'a> Program<'a> {
    /// Decode and check `slots`; `work` counts graph steps against the budget.
    pub fn build(
        slots: &'a [Insn],
        maps: &[MapDef],
        budget: u64,
        work: &mut u64,
    ) -> Result<Program<'a>, StaticError> {
        let n = slots.len();
        if n == 0 {
            return Err((InsnIdx(0), RejectKind::EmptyProgram));
        }
        if n > limits::MAX_INSNS {
            return Err((
                InsnIdx(0),
                RejectKind::TooLong {
                    slots: n.min(u32::MAX as usize) as u32,
                    max: limits::MAX_INSNS as u32,
                },
            ));
        }
        let mut ops = vec![None; n];
        let mut pc = 0;
        while pc < n {
            let op = Op::decode(&slots[pc..])
                .map_err(|e| (InsnIdx(pc as u32), RejectKind::Decode(e.into())))?;
            ops[pc] = Some(op);
            pc += op.slots();
        }
        let mut leader = vec![false; n + 1];
        leader[0] = true;
        leader[n] = true;
        for (pc, op) in ops.iter().enumerate() {
            let Some(op) = op else { continue };
            let at = InsnIdx(pc as u32);
            if written_reg(op) == Some(Reg::FP) {
                return Err((at, RejectKind::WriteFp));
            }
            match *op {
                Op::LoadImm64 { kind, imm_lo, .. } => match kind {
                    LoadImmKind::Imm64 => {}
                    LoadImmKind::Map => {
                        if imm_lo as u32 as usize >= maps.len() {
                            return Err((
                                at,
                                RejectKind::UnknownMap {
                                    map: imm_lo as u32,
                                    count: maps.len() as u32,
                                },
                            ));
                        }
                    }
                    other => return Err((at, RejectKind::UnsupportedLddw { src: other.src() })),
                },
                Op::Call(CallTarget::Helper(id))
                    if capscope_bytecode::abi::helpers::find(id).is_none() =>
                {
                    return Err((at, RejectKind::UnknownHelper { id: id.0 }));
                }
                Op::Call(CallTarget::Local(_)) => return Err((at, RejectKind::LocalCall)),
                Op::Call(CallTarget::Btf(_)) => return Err((at, RejectKind::BtfCall)),
                _ => {}
            }
            if let Some(t) = jump_target(pc as u32, op) {
                if t < 0 || t >= n as i64 {
                    return Err((
                        at,
                        RejectKind::JumpOutOfRange {
                            target: t,
                            len: n as u32,
                        },
                    ));
                }
                if ops[t as usize].is_none() {
                    return Err((at, RejectKind::JumpIntoLddw { target: t as u32 }));
                }
                leader[t as usize] = true;
            }
            if matches!(op, Op::Ja { .. } | Op::Jmp { .. } | Op::Exit) {
                leader[pc + op.slots()] = true;
            }
        }
        let mut block_of = vec![u32::MAX; n];
        let mut blocks: Vec<Block> = Vec::new();
        let mut start = 0;
        for pc in 1..=n {
            if leader[pc] {
                for b in &mut block_of[start..pc] {
                    *b = blocks.len() as u32;
                }
                blocks.push(Block {
                    start: start as u32,
                    end: pc as u32,
                    succs: Vec::new(),
                });
                start = pc;
            }
        }
        for blk in &mut blocks {
            let last = last_op_pc(&ops, blk.start, blk.end);
            let op = ops[last].as_ref().copied();
            let fall = blk.end as usize;
            let mut succs = Vec::new();
            match op {
                Some(Op::Exit) => {}
                Some(op @ Op::Ja { .. }) => {
                    succs.push(block_of[jump_target(last as u32, &op).unwrap_or(0) as usize])
                }
                Some(op @ Op::Jmp { .. }) => {
                    if fall < n {
                        succs.push(block_of[fall]);
                    }
                    let t = block_of[jump_target(last as u32, &op).unwrap_or(0) as usize];
                    if !succs.contains(&t) {
                        succs.push(t);
                    }
                }
                _ => {
                    if fall < n {
                        succs.push(block_of[fall]);
                    }
                }
            }
            blk.succs = succs;
        }
        let schedule = schedule(&blocks, budget, work)
            .ok_or((InsnIdx(0), RejectKind::Budget { processed: *work }))?;
        Ok(Program {
            slots,
            ops,
            blocks,
            schedule,
        })
    }

    /// Slot of the last instruction of block `b`.
    pub fn last_pc(&self, b: u32) -> usize {
        let blk = &self.blocks[b as usize];
        last_op_pc(&self.ops, blk.start, blk.end)
    }

    /// The block starting at slot `pc` (which must be a leader).
    pub fn block_at(&self, pc: usize) -> u32 {
        self.blocks.partition_point(|b| (b.start as usize) < pc) as u32
    }
}

fn last_op_pc(ops: &[Option<Op>], start: u32, end: u32) -> usize {
    (start as usize..end as usize)
        .rev()
        .find(|&pc| ops[pc].is_some())
        .unwrap_or(start as usize)
}

enum Tree {
    Block(u32),
    Loop(u32),
}

/// The weak topological order, flattened into a schedule. `None` if it
/// would cost more than the budget (deeply nested irreducible graphs).
fn schedule(blocks: &[Block], budget: u64, work: &mut u64) -> Option<Vec<Step>> {
    let nb = blocks.len();
    // Arena of tree nodes; children lists per node. Node 0 is the root.
    let mut kinds: Vec<Tree> = vec![Tree::Loop(u32::MAX)];
    let mut children: Vec<Vec<usize>> = vec![Vec::new()];
    // Tarjan state, reused across tasks with a generation stamp.
    let mut member = vec![0u32; nb];
    let mut index = vec![0u32; nb];
    let mut low = vec![0u32; nb];
    let mut on_stack = vec![false; nb];
    let mut visited = vec![0u32; nb];
    let mut tasks: Vec<(usize, Vec<u32>, Option<u32>)> = vec![(0, (0..nb as u32).collect(), None)];
    let mut generation = 0u32;
    while let Some((parent, nodes, excluded)) = tasks.pop() {
        generation += 1;
        for &v in &nodes {
            member[v as usize] = generation;
        }
        let in_set =
            |v: u32, member: &[u32]| member[v as usize] == generation && Some(v) != excluded;
        // Roots: entries of the set first (block 0, or nodes with a
        // predecessor outside), then everything else in order.
        let mut roots: Vec<u32> = Vec::with_capacity(nodes.len() + 4);
        if excluded.is_none() {
            roots.push(0);
        }
        // Inside a loop body, the head's successors are where iterations
        // enter; starting there makes the body's own loops head at entries.
        if let Some(h) = excluded {
            for &s in &blocks[h as usize].succs {
                if in_set(s, &member) && !roots.contains(&s) {
                    roots.push(s);
                }
            }
        }
        roots.extend(nodes.iter().copied());
        let mut counter = 0u32;
        let mut sccs: Vec<Vec<u32>> = Vec::new();
        let mut stack: Vec<u32> = Vec::new();
        let mut call: Vec<(u32, usize)> = Vec::new();
        for &r in &roots {
            if visited[r as usize] == generation {
                continue;
            }
            visited[r as usize] = generation;
            index[r as usize] = counter;
            low[r as usize] = counter;
            counter += 1;
            stack.push(r);
            on_stack[r as usize] = true;
            call.push((r, 0));
            while let Some(&mut (v, ref mut i)) = call.last_mut() {
                *work += 1;
                if *work > budget {
                    return None;
                }
                let succs = &blocks[v as usize].succs;
                if *i < succs.len() {
                    let w = succs[*i];
                    *i += 1;
                    if !in_set(w, &member) {
                        continue;
                    }
                    if visited[w as usize] != generation {
                        visited[w as usize] = generation;
                        index[w as usize] = counter;
                        low[w as usize] = counter;
                        counter += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, 0));
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                } else {
                    call.pop();
                    if low[v as usize] == index[v as usize] {
                        let mut scc = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            scc.push(w);
                            if w == v {
                                break;
                            }
                        }
                        // the root (v) first: it is the head if this is a loop
                        scc.reverse();
                        sccs.push(scc);
                    }
                    if let Some(&(u, _)) = call.last() {
                        low[u as usize] = low[u as usize].min(low[v as usize]);
                    }
                }
            }
        }
        // Tarjan emits sinks first: reverse for topological order.
        let mut new_tasks = Vec::new();
        for scc in sccs.into_iter().rev() {
            let head = scc[0];
            let is_loop = scc.len() > 1 || blocks[head as usize].succs.contains(&head);
            if is_loop {
                let id = kinds.len();
                kinds.push(Tree::Loop(head));
                children.push(Vec::new());
                let hb = kinds.len();
                kinds.push(Tree::Block(head));
                children.push(Vec::new());
                children[id].push(hb);
                children[parent].push(id);
                let body: Vec<u32> = scc[1..].to_vec();
                if !body.is_empty() {
                    new_tasks.push((id, body, Some(head)));
                }
            } else {
                let id = kinds.len();
                kinds.push(Tree::Block(head));
                children.push(Vec::new());
                children[parent].push(id);
            }
        }
        // Each task appends only to its own loop node, so order is kept.
        tasks.extend(new_tasks.into_iter().rev());
    }
    // Flatten with an explicit stack.
    let mut out = Vec::with_capacity(nb * 2);
    let mut begins: Vec<usize> = Vec::new();
    let mut st: Vec<(usize, usize)> = vec![(0, 0)];
    while let Some(&mut (node, ref mut i)) = st.last_mut() {
        if *i < children[node].len() {
            let c = children[node][*i];
            *i += 1;
            match kinds[c] {
                Tree::Block(b) => out.push(Step::Visit(b)),
                Tree::Loop(h) => {
                    begins.push(out.len());
                    out.push(Step::LoopBegin { head: h });
                    st.push((c, 0));
                }
            }
        } else {
            st.pop();
            if node != 0 {
                let begin = begins.pop().unwrap_or(0);
                out.push(Step::LoopEnd {
                    begin: begin as u32,
                });
            }
        }
    }
    Some(out)
}
