//! The safe host path: verify, compile, check inputs, run.

mod common;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::model::{EventState, ModelEnv};
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_jit::Options;
use capscope_jit::host::{HostError, HostProgram, RunError};

fn maps() -> Vec<MapDef> {
    vec![MapDef {
        name: "@c".into(),
        kind: MapKind::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        display: MapDisplay::default(),
    }]
}

const COUNT_BY_TASK: &str = "
r2 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = r2
r1 = map[0] ll
r2 = r10
r2 += -4
call map_lookup_elem
if r0 == 0 goto +3
r1 = 1
lock *(u64 *)(r0 + 0) += r1
goto +10
r1 = 1
*(u64 *)(r10 - 16) = r1
r1 = map[0] ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call map_update_elem
r0 = 7
exit
";

#[test]
fn verified_programs_run_against_their_environment() {
    let slots = assemble(COUNT_BY_TASK).unwrap();
    let point = AttachPoint::SyscallEnter;
    let mut env = ModelEnv::new(&maps(), EventState::default());
    let opts = Options {
        emit_asm: true,
        ..Options::default()
    };
    let prog = HostProgram::compile(&slots, point, &env, &opts).unwrap();
    assert!(prog.program().asm().is_some());
    let mut ctx = vec![0u8; point.context_size()];
    ctx[12] = 42;
    for _ in 0..3 {
        assert_eq!(prog.run(&ctx, &mut env), Ok(7));
    }
    let snap = env.snapshot();
    let entries = &snap.maps[0].entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].key, 42u32.to_le_bytes());
    assert_eq!(entries[0].values[0], 3u64.to_le_bytes());
    let mut runner = prog.runner(&ctx, &mut env).unwrap();
    assert_eq!(runner.run(), 7);
    drop(runner);
    assert_eq!(
        env.snapshot().maps[0].entries[0].values[0],
        4u64.to_le_bytes()
    );
}

#[test]
fn inputs_are_checked() {
    let slots = assemble(COUNT_BY_TASK).unwrap();
    let point = AttachPoint::SyscallEnter;
    let env = ModelEnv::new(&maps(), EventState::default());
    let prog = HostProgram::compile(&slots, point, &env, &Options::default()).unwrap();
    let mut other = ModelEnv::new(&maps(), EventState::default());
    let ctx = vec![0u8; point.context_size()];
    assert_eq!(prog.run(&ctx, &mut other), Err(RunError::WrongEnvironment));
    let mut env = env;
    assert!(matches!(
        prog.run(&ctx[..8], &mut env),
        Err(RunError::ContextSize { got: 8, .. })
    ));
}

#[test]
fn unverified_programs_are_refused() {
    let env = ModelEnv::new(&[], EventState::default());
    // Reads r2 before writing it.
    let slots = assemble("r0 = r2\nexit").unwrap();
    let e = HostProgram::compile(&slots, AttachPoint::Begin, &env, &Options::default());
    assert!(matches!(e, Err(HostError::Rejected(_))));
    // Writes the read-only context.
    let slots = assemble("*(u64 *)(r1 + 0) = 1\nr0 = 0\nexit").unwrap();
    let e = HostProgram::compile(&slots, AttachPoint::Begin, &env, &Options::default());
    assert!(matches!(e, Err(HostError::Rejected(_))), "{:?}", e.err());
}
