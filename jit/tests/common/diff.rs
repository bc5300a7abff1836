//! Differential execution: one program, one context, two equal model
//! environments; the reference interpreter runs on one, the JIT on the
//! other, and r0, every map and every ring-buffer record must agree.

use capscope_bytecode::insn::Insn;
use capscope_bytecode::interp::{self, Config, Trap};
use capscope_bytecode::model::{EventState, ModelEnv};
use capscope_bytecode::object::MapDef;
use capscope_jit::Options;
use capscope_jit::host::{HostCodeMemory, ModelLinker};
use capscope_verifier::Facts;

/// What both engines agreed on.
pub struct Agreed {
    pub r0: u64,
    pub env: ModelEnv,
}

/// Run `slots` on both engines. `Err` if the interpreter traps (the program
/// is not one the verifier would accept, so the JIT is not run on it);
/// panics if the engines disagree or the JIT refuses a program the
/// interpreter ran.
pub fn differential(
    slots: &[Insn],
    facts: Option<&Facts>,
    maps: &[MapDef],
    ctx: &[u8],
) -> Result<Agreed, Trap> {
    let mut ienv = ModelEnv::new(maps, EventState::default());
    let exit = interp::run(slots, ctx, &mut ienv, &Config::default())?;
    let mut jenv = ModelEnv::new(maps, EventState::default());
    let conservative = Facts::conservative(slots.len());
    let facts = facts.unwrap_or(&conservative);
    let prog = capscope_jit::compile(
        slots,
        facts,
        &ModelLinker(&jenv),
        &mut HostCodeMemory,
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("the interpreter ran it but the JIT refused: {e}"));
    let r0 = {
        let _guard = jenv.enter();
        // SAFETY: the memory-checked interpreter ran this program on an
        // equal environment and context to completion without a trap, so
        // every access and helper argument on this (deterministic) path is
        // valid; the JIT's environment is entered for the helpers.
        unsafe { prog.call(ctx.as_ptr(), 0) }
    };
    assert_eq!(exit.r0, r0, "r0 differs (interpreter, JIT)");
    assert_eq!(
        ienv.snapshot(),
        jenv.snapshot(),
        "maps or ring buffers differ"
    );
    Ok(Agreed { r0, env: jenv })
}
