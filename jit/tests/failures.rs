//! Failure paths: every bad input is a `JitError`, never a panic; plus the
//! use of verifier facts and the `--emit` texts.

mod common;

use capscope_bytecode::insn::{
    AluOp, CallTarget, HelperId, Insn, JmpCond, LoadImmKind, MapIdx, Op, Width,
};
use capscope_jit::host::HostCodeMemory;
use capscope_jit::{JitError, Options, Unsupported};
use capscope_verifier::{Branch, Facts};
use common::*;

fn err(ops: &[Op]) -> JitError {
    compile_with(ops, None, &no_links(), &Options::default()).unwrap_err()
}

#[test]
fn malformed_programs_are_errors() {
    assert_eq!(
        capscope_jit::compile(
            &[],
            &Facts::conservative(0),
            &no_links(),
            &mut HostCodeMemory,
            &Options::default()
        )
        .unwrap_err(),
        JitError::Empty
    );
    let bad = [Insn {
        code: 0xff,
        ..Insn::default()
    }];
    assert!(matches!(
        capscope_jit::compile(
            &bad,
            &Facts::conservative(1),
            &no_links(),
            &mut HostCodeMemory,
            &Options::default()
        ),
        Err(JitError::Decode(_))
    ));
    assert!(matches!(
        capscope_jit::compile(
            &slots(&[Op::Exit]),
            &Facts::conservative(2),
            &no_links(),
            &mut HostCodeMemory,
            &Options::default()
        ),
        Err(JitError::FactsMismatch { slots: 1, facts: 2 })
    ));
    assert!(matches!(err(&[mov64(0, 1)]), JitError::FallsOffEnd { .. }));
    assert!(matches!(
        err(&[
            Op::Ja {
                off: 5,
                long: false
            },
            Op::Exit
        ]),
        JitError::BadJump { .. }
    ));
    // A jump into the second half of an lddw.
    assert!(matches!(
        err(&[
            Op::Ja {
                off: 1,
                long: false
            },
            lddw(0, 1),
            Op::Exit
        ]),
        JitError::BadJump { .. }
    ));
    assert!(matches!(
        err(&[Op::Call(CallTarget::Helper(HelperId(1))), Op::Exit]),
        JitError::UnknownHelper {
            helper: HelperId(1),
            ..
        }
    ));
    assert!(matches!(
        err(&[
            Op::LoadImm64 {
                kind: LoadImmKind::Map,
                dst: r(1),
                imm_lo: 3,
                imm_hi: 0
            },
            Op::Exit
        ]),
        JitError::UnknownMap { map: MapIdx(3), .. }
    ));
    assert!(matches!(
        err(&[
            Op::LoadImm64 {
                kind: LoadImmKind::MapValue,
                dst: r(1),
                imm_lo: 0,
                imm_hi: 0
            },
            Op::Exit
        ]),
        JitError::Unsupported {
            what: Unsupported::LoadImmKind,
            ..
        }
    ));
    assert!(matches!(
        err(&[Op::Call(CallTarget::Btf(7)), Op::Exit]),
        JitError::Unsupported {
            what: Unsupported::BtfCall,
            ..
        }
    ));
    // Self-recursion unrolls until the depth limit.
    assert!(matches!(
        err(&[Op::Call(CallTarget::Local(-1)), Op::Exit]),
        JitError::CallDepth { .. }
    ));
}

#[test]
fn too_large_programs_are_errors() {
    let opts = Options {
        max_insns: 100,
        ..Options::default()
    };
    let mut ops = vec![mov64(0, 0); 100];
    ops.push(Op::Exit);
    assert_eq!(
        compile_with(&ops, None, &no_links(), &opts).unwrap_err(),
        JitError::TooLarge {
            insns: 101,
            max: 100
        }
    );
    // Inlining counts every copy: 4 calls of a 30-instruction function.
    let mut ops = vec![Op::Call(CallTarget::Local(4)); 4];
    ops.push(Op::Exit);
    ops.extend(vec![mov64(0, 0); 30]);
    ops.push(Op::Exit);
    let e = compile_with(&ops, None, &no_links(), &opts).unwrap_err();
    assert!(matches!(e, JitError::TooLarge { max: 100, .. }), "{e:?}");
    assert!(!e.to_string().is_empty());
}

#[test]
fn facts_drop_decided_branches() {
    // if r1 (the context pointer, never 0) == 0 { r0 = 1 } else { r0 = 2 }
    let ops = [
        mov64(0, 2),
        jmp(Width::W64, JmpCond::Eq, 1, imm(0), 1),
        Op::Exit,
        mov64(0, 1),
        Op::Exit,
    ];
    assert_eq!(run(&ops), 2);
    // Facts claiming the branch is always taken are obeyed (they are
    // trusted): the comparison is gone and the taken side runs.
    let mut facts = Facts::conservative(ops.len());
    facts.insns[1].branch = Branch::AlwaysTaken;
    facts.insns[2].reachable = false;
    let opts = Options {
        emit_clif: true,
        ..Options::default()
    };
    let p = compile_with(&ops, Some(facts), &no_links(), &opts).unwrap();
    // SAFETY: the program only moves constants.
    assert_eq!(unsafe { p.call([0u8; 8].as_ptr(), 0) }, 1);
    assert!(!p.clif().unwrap().contains("brif"), "{}", p.clif().unwrap());
    // An unreachable target means never taken.
    let mut facts = Facts::conservative(ops.len());
    facts.insns[3].reachable = false;
    facts.insns[4].reachable = false;
    let p = compile_with(&ops, Some(facts), &no_links(), &opts).unwrap();
    assert!(!p.clif().unwrap().contains("brif"));
    // SAFETY: as above.
    assert_eq!(unsafe { p.call([0u8; 8].as_ptr(), 0) }, 2);
}

#[test]
fn emit_texts_show_ir_and_machine_code() {
    let ops = [mov64(0, 3), alu64(AluOp::Add, 0, reg(1)), Op::Exit];
    let opts = Options {
        emit_clif: true,
        emit_asm: true,
        ..Options::default()
    };
    let p = compile_with(&ops, None, &no_links(), &opts).unwrap();
    let clif = p.clif().unwrap();
    assert!(clif.contains("function") && clif.contains("iadd"), "{clif}");
    let asm = p.asm().unwrap();
    assert!(asm.contains("ret"), "{asm}");
    assert!(p.code_size() > 0);
    let plain = compile_with(&ops, None, &no_links(), &Options::default()).unwrap();
    assert!(plain.clif().is_none() && plain.asm().is_none());
}

#[test]
fn one_jit_compiles_many_programs() {
    let mut jit = capscope_jit::Jit::new(&Options::default()).unwrap();
    for k in 0..20 {
        let s = slots(&[mov64(0, k), Op::Exit]);
        let p = jit
            .compile(
                &s,
                &Facts::conservative(s.len()),
                &no_links(),
                &mut HostCodeMemory,
            )
            .unwrap();
        // SAFETY: constant program.
        assert_eq!(unsafe { p.call([0u8; 8].as_ptr(), 0) }, k as u64);
    }
    // An error leaves the compiler usable.
    let bad = slots(&[mov64(0, 1)]);
    assert!(
        jit.compile(
            &bad,
            &Facts::conservative(1),
            &no_links(),
            &mut HostCodeMemory
        )
        .is_err()
    );
    let s = slots(&[mov64(0, 5), Op::Exit]);
    let p = jit
        .compile(
            &s,
            &Facts::conservative(2),
            &no_links(),
            &mut HostCodeMemory,
        )
        .unwrap();
    // SAFETY: constant program.
    assert_eq!(unsafe { p.call([0u8; 8].as_ptr(), 0) }, 5);
}
