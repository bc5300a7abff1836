//! The facts the JIT consumes: reachability and decided branches.

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_verifier::{Branch, Facts, Options, verify_insns};

fn facts(text: &str) -> Facts {
    let maps = vec![MapDef {
        name: "m".into(),
        kind: MapKind::Hash,
        key_size: 8,
        value_size: 8,
        max_entries: 16,
        display: MapDisplay::default(),
    }];
    let insns = assemble(text).unwrap();
    verify_insns(&insns, AttachPoint::Begin, &maps, &Options::default())
        .unwrap()
        .facts
}

#[test]
fn unreachable_code_is_marked() {
    let f = facts("r0 = 0\nexit\nr0 = r5\nexit\n");
    let reach: Vec<bool> = f.insns.iter().map(|i| i.reachable).collect();
    assert_eq!(reach, [true, true, false, false]);
}

#[test]
fn constant_branches_are_decided() {
    let f = facts("r1 = 1\nif r1 == 2 goto +2\nr0 = 0\nexit\nr0 = r8\nexit\n");
    assert_eq!(f.insns[1].branch, Branch::NeverTaken);
    assert!(!f.insns[4].reachable);
    let f = facts("r1 = 1\nif r1 != 2 goto +1\nr0 = r8\nr0 = 0\nexit\n");
    assert_eq!(f.insns[1].branch, Branch::AlwaysTaken);
    assert!(!f.insns[2].reachable);
}

#[test]
fn a_second_null_check_is_decided_and_an_unknown_branch_is_not() {
    let f = facts(
        "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = map[0] ll\ncall map_lookup_elem\n\
         if r0 == 0 goto +2\nif r0 == 0 goto +1\nr0 = 0\nr0 = 0\nexit\n",
    );
    // slots: lddw takes 4 and 5, the call is 6
    assert_eq!(f.insns[7].branch, Branch::Unknown);
    assert_eq!(f.insns[8].branch, Branch::NeverTaken);
    assert_eq!(f.insns.len(), 12);
    // the second half of the lddw keeps the default entry
    assert!(f.insns[5].reachable);
}

#[test]
fn stack_pointers_are_never_null() {
    let f = facts("r0 = 0\nif r10 != 0 goto +1\nr0 = r7\nexit\n");
    assert_eq!(f.insns[1].branch, Branch::AlwaysTaken);
}

#[test]
fn loop_exit_branches_are_unknown_overall() {
    // taken in the first iterations, not in the last
    let f = facts("r1 = 0\nr1 += 1\nif r1 < 3 goto -2\nr0 = 0\nexit\n");
    assert_eq!(f.insns[2].branch, Branch::Unknown);
}
