//! The reference interpreter: the executable definition of capscope's
//! eBPF semantics (RFC 9669), against which the JIT and the verifier are
//! tested.
//!
//! # What it guarantees
//! - [`run`] is safe to call on *any* slot sequence: invalid encodings,
//!   wild pointers, endless loops and bad helper arguments all end in a
//!   [`Trap`] with the instruction index, never in a panic or a stray memory
//!   access. This memory-checked mode allows only accesses inside the
//!   context (read-only), the live stack frames, and the map values helpers
//!   handed out; it traps on reads of never-written stack bytes and
//!   registers, and on any pointer-carrying value that would leave the
//!   program (r0 at exit, scalar helper arguments, map keys and values,
//!   ring-buffer records). That makes it the oracle for the verifier: a
//!   program the verifier accepts must never trap here.
//! - [`run_trusted`] skips those checks for programs the verifier accepted.
//!
//! # Addresses are real
//! r1 is the real address of the context bytes, r10 is one past a real,
//! 8-aligned, 512-byte stack frame, and map values are real pointers into
//! the environment's storage. So the interpreter, the JIT and the kernel see
//! the same pointer values and call the same helper implementations.
//!
//! # Semantics in brief
//! ALU32 results zero-extend; shift amounts are masked; unsigned division by
//! zero gives 0 and modulo by zero leaves the destination (zero-extended in
//! 32-bit); signed division wraps `MIN / -1` to `MIN`, `MIN % -1` is 0;
//! immediates are sign-extended for 64-bit operations (and 64-bit unsigned
//! division uses that sign-extended value as a `u64`). A local call gets a
//! fresh 512-byte frame, keeps r6-r9 of the caller, and may nest up to
//! [`Config::max_frames`] frames. `lddw` loads a constant (`src = 0`) or a
//! map handle from the [`Env`] (`src = 1`); other kinds trap.

mod alu;
mod exec;
mod helper_call;
mod memory;
mod trap;

pub use alu::{alu, alu32, alu64, jump_taken, movsx, neg, sign_extend, swap};
pub use trap::{ArgProblem, LeakSink, Trap, TrapKind};

use alloc::vec::Vec;

use crate::insn::{HelperId, Insn, InsnIdx, MapIdx, Op, ProgramErrorKind, decode_program};
use crate::object::MapDef;

/// The world a program runs in: its maps and helpers.
///
/// The interpreter asks for map handles when it executes `lddw rX, map[N]`,
/// looks up the definition behind a handle to check helper arguments, and
/// calls helpers with raw register values, pointers included.
///
/// # Safety
/// Implementors promise, for the interpreter's memory checks to hold:
/// 1. When `call` returns a non-zero value for a helper whose return type is
///    [`crate::abi::helpers::Ret::MapValueOrNull`], it is the address of
///    `value_size` bytes (of the map whose handle was argument 1) that stay
///    valid for reads and writes, and are not referenced by anything else,
///    until the end of the current run. (A model that frees values on
///    delete must defer that, as Linux does with RCU.)
/// 2. `call` touches program memory only through its pointer arguments, as
///    the helper table declares: it reads `MapKey`/`MapValue`/`ReadMem`
///    arguments and writes `WriteMem` arguments within their `Size`.
/// 3. `map_def` returns `Some` only for handles of this environment's maps.
#[allow(unsafe_code)]
pub unsafe trait Env {
    /// Handle for `lddw rX, map[idx]`; `None` means the map does not exist
    /// and the run traps.
    fn map_handle(&mut self, idx: MapIdx) -> Option<u64>;

    /// The definition behind a handle. The checked mode uses key and value
    /// sizes and kinds to check helper arguments.
    fn map_def(&self, handle: u64) -> Option<&MapDef>;

    /// Call helper `id` with r1..r5, returning r0. Pointer arguments are raw
    /// addresses.
    ///
    /// # Safety
    /// Every pointer argument must be valid as the helper's [`crate::abi::helpers::Arg`]
    /// types declare: `MapKey`/`MapValue` point to the map's key/value size
    /// of readable bytes, `ReadMem`/`WriteMem` to `Size` readable/writable
    /// bytes, `Map` is a handle this environment gave out. The checked
    /// interpreter establishes this before every call; for native code the
    /// verifier does.
    unsafe fn call(&mut self, id: HelperId, args: [u64; 5]) -> Result<u64, TrapKind>;
}

/// The most frames [`Config::max_frames`] can allow; larger values are
/// clamped to it.
pub const MAX_FRAMES: usize = 128;

/// Limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The most instructions a run may execute (counting `exit`); one more
    /// traps with [`TrapKind::FuelExhausted`].
    pub fuel: u64,
    /// The most stack frames that may be live at once, the outermost
    /// included (Linux allows 8; at most [`MAX_FRAMES`]). A local call
    /// beyond it traps with [`TrapKind::CallDepth`].
    pub max_frames: usize,
}

impl Config {
    /// The defaults with a different fuel limit.
    pub fn with_fuel(fuel: u64) -> Config {
        Config {
            fuel,
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            fuel: 1_000_000,
            max_frames: 8,
        }
    }
}

/// A run that reached `exit` in its outermost frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The return value.
    pub r0: u64,
    /// Instructions executed, `exit` included.
    pub steps: u64,
}

/// A decoded program, ready to run many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// One entry per slot; `None` for the second half of an `lddw`.
    ops: Vec<Option<Op>>,
}

impl Program {
    /// Decode `slots`. Fails with [`TrapKind::InvalidInstruction`] at the
    /// first slot that does not decode: a program with an invalid
    /// instruction anywhere is invalid as a whole, as in Linux.
    pub fn new(slots: &[Insn]) -> Result<Program, Trap> {
        let decoded = decode_program(slots).map_err(|e| Trap {
            at: e.at,
            kind: match e.error {
                ProgramErrorKind::Decode(d) => TrapKind::InvalidInstruction(d),
                // `decode_program` works on whole slots, so it cannot report
                // a partial one; map it to the nearest meaning anyway.
                ProgramErrorKind::TruncatedInsn { .. } => {
                    TrapKind::InvalidInstruction(crate::insn::DecodeError::TruncatedLddw)
                }
            },
        })?;
        let mut ops = alloc::vec![None; slots.len()];
        for (InsnIdx(i), op) in decoded {
            ops[i as usize] = Some(op);
        }
        Ok(Program { ops })
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True for a program of no slots (which traps at once when run).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The decoded instruction at a slot (`None` for an `lddw`'s second half).
    pub fn op(&self, at: InsnIdx) -> Option<Op> {
        self.ops.get(at.as_usize()).copied().flatten()
    }

    /// Run in the memory-checked mode (see [`run`]).
    pub fn run(&self, ctx: &[u8], env: &mut dyn Env, cfg: &Config) -> Result<Exit, Trap> {
        exec::execute(&self.ops, memory::Memory::new(ctx), env, cfg)
    }

    /// Run without memory checks (see [`run_trusted`]).
    ///
    /// # Safety
    /// As for [`run_trusted`].
    #[allow(unsafe_code)]
    pub unsafe fn run_trusted(
        &self,
        ctx: &[u8],
        env: &mut dyn Env,
        cfg: &Config,
    ) -> Result<Exit, Trap> {
        // SAFETY: our caller promises the verifier accepted this program for
        // the attach point `ctx` belongs to, with `env`'s maps.
        let mem = unsafe { memory::Memory::new_trusted(ctx) };
        exec::execute(&self.ops, mem, env, cfg)
    }
}

/// Run `slots` once over the context bytes `ctx`, memory-checked.
///
/// Safe on any input: every failure is a [`Trap`] naming the instruction.
pub fn run(slots: &[Insn], ctx: &[u8], env: &mut dyn Env, cfg: &Config) -> Result<Exit, Trap> {
    Program::new(slots)?.run(ctx, env, cfg)
}

/// Run `slots` without memory, initialization or pointer-leak checks: the
/// fast path for verified programs. Decoding, fuel, call depth, jump targets
/// and helper existence are still checked.
///
/// # Safety
/// The verifier must have accepted `slots` for the attach point whose
/// context `ctx` is, with the maps `env` provides. Otherwise the program may
/// read or write arbitrary memory.
#[allow(unsafe_code)]
pub unsafe fn run_trusted(
    slots: &[Insn],
    ctx: &[u8],
    env: &mut dyn Env,
    cfg: &Config,
) -> Result<Exit, Trap> {
    let prog = Program::new(slots)?;
    // SAFETY: forwarded from our caller.
    unsafe { prog.run_trusted(ctx, env, cfg) }
}
