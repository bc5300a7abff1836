//! Interpreter vs JIT on programs the verifier accepts: any difference in
//! r0, map contents or ring-buffer records panics.
//!
//! The input is raw instruction slots, appended to a prologue that
//! initializes r0-r9 and 64 bytes of stack, so that most decodable bodies
//! get past the verifier's "read before write" rules. Programs the
//! verifier rejects are skipped: the JIT is only defined on accepted ones
//! (for example, a branch on pointer bits could go differently in the two
//! engines, whose stacks live at different addresses).
#![no_main]

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::{Insn, slots_from_bytes};
use capscope_bytecode::interp::{self, Config};
use capscope_bytecode::model::{EventState, ModelEnv};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_jit::host::{HostCodeMemory, ModelLinker};
use capscope_verifier::{Options, verify_insns};
use libfuzzer_sys::fuzz_target;

fn maps() -> Vec<MapDef> {
    let def = |name: &str, kind, key, value, max| MapDef {
        name: name.into(),
        kind,
        key_size: key,
        value_size: value,
        max_entries: max,
        display: MapDisplay::default(),
    };
    vec![
        def("@h", MapKind::Hash, 8, 8, 4),
        def("@rb", MapKind::RingBuf, 0, 0, 4096),
    ]
}

/// `lddw ri, 0x0101...*i` for r0-r9, then `*(u64 *)(r10 - 8k) = r(k % 10)`.
fn prologue() -> Vec<Insn> {
    let mut out = Vec::new();
    for i in 0..10u8 {
        let v = 0x0101_0101_0101_0101u64.wrapping_mul(u64::from(i) + 1) ^ 0x8000_0000;
        out.push(Insn {
            code: 0x18,
            dst: i,
            src: 0,
            off: 0,
            imm: v as u32 as i32,
        });
        out.push(Insn {
            code: 0,
            dst: 0,
            src: 0,
            off: 0,
            imm: (v >> 32) as u32 as i32,
        });
    }
    for k in 1..=8i16 {
        out.push(Insn {
            code: 0x7b,
            dst: 10,
            src: (k % 10) as u8,
            off: -8 * k,
            imm: 0,
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = data.len() / 8 * 8;
    let Ok(body) = slots_from_bytes(&data[..whole]) else {
        return;
    };
    if body.is_empty() || body.len() > 512 {
        return;
    }
    let mut slots = prologue();
    slots.extend(body);
    let maps = maps();
    let opts = Options {
        max_steps: 200_000,
        ..Options::default()
    };
    let Ok(verified) = verify_insns(&slots, AttachPoint::Begin, &maps, &opts) else {
        return;
    };
    let ctx = vec![0u8; AttachPoint::Begin.context_size()];
    let mut ienv = ModelEnv::new(&maps, EventState::default());
    let exit = match interp::run(&slots, &ctx, &mut ienv, &Config::default()) {
        Ok(exit) => exit,
        // Fuel ran out (a long but bounded loop): nothing to compare.
        Err(t) if t.kind == interp::TrapKind::FuelExhausted => return,
        Err(t) => panic!("the interpreter trapped on a verified program: {t:?}"),
    };
    let mut jenv = ModelEnv::new(&maps, EventState::default());
    let prog = match capscope_jit::compile(
        &slots,
        &verified.facts,
        &ModelLinker(&jenv),
        &mut HostCodeMemory,
        &capscope_jit::Options::default(),
    ) {
        Ok(p) => p,
        // Inlining local calls can exceed the instruction budget: a
        // limit, not a difference.
        Err(capscope_jit::JitError::TooLarge { .. }) => return,
        Err(e) => panic!("the JIT refused a verified program: {e}"),
    };
    let r0 = {
        let _guard = jenv.enter();
        // SAFETY: the verifier accepted the program for these maps and this
        // attach point, and the context has the attach point's size.
        unsafe { prog.call(ctx.as_ptr()) }
    };
    assert_eq!(exit.r0, r0, "r0 differs (interpreter, JIT)");
    assert_eq!(
        ienv.snapshot(),
        jenv.snapshot(),
        "maps or ring buffers differ"
    );
});
