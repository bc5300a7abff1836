//! Every accept case of the verifier (`verifier/tests/cases/*.case` with
//! `expect: accept`) runs on the interpreter and on the JIT compiled with the
//! verifier's own facts; they must agree. Adding a case there adds one here.

mod common;

use std::path::Path;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_verifier::{Options, verify_insns};
use common::diff::differential;

struct Case {
    attach: AttachPoint,
    maps: Vec<MapDef>,
    raw: Vec<u8>,
    accept: bool,
    code: String,
}

/// The subset of the case format (see `verifier/tests/cases.rs`) that
/// matters for running a case.
fn parse(text: &str) -> Case {
    let (head, code) = text.split_once("\n---\n").expect("a `---` line");
    let mut case = Case {
        attach: AttachPoint::Begin,
        maps: Vec::new(),
        raw: Vec::new(),
        accept: false,
        code: code.to_string(),
    };
    for line in head.lines().filter(|l| !l.starts_with('#')) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "attach" => case.attach = AttachPoint::from_name(v).expect("attach point"),
            "map" => {
                let p: Vec<&str> = v.split(':').collect();
                let n = |s: &str| s.parse::<u32>().expect("number");
                case.maps.push(MapDef {
                    name: format!("map{}", case.maps.len()),
                    kind: MapKind::from_name(p[0]).expect("map kind"),
                    key_size: n(p[1]),
                    value_size: n(p[2]),
                    max_entries: n(p[3]),
                    display: MapDisplay::default(),
                });
            }
            "raw" => case.raw.extend(
                v.split_whitespace()
                    .map(|b| u8::from_str_radix(b, 16).expect("hex byte")),
            ),
            "expect" => case.accept = v == "accept",
            _ => {}
        }
    }
    case
}

#[test]
fn verifier_accept_cases_agree_on_both_engines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier/tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("verifier cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    let mut ran = 0;
    for path in files {
        let case = parse(&std::fs::read_to_string(&path).unwrap());
        if !case.accept {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut slots = assemble(&case.code).unwrap_or_else(|e| panic!("{name}: {e}"));
        if !case.raw.is_empty() {
            slots.extend(capscope_bytecode::insn::slots_from_bytes(&case.raw).unwrap());
        }
        let verified = verify_insns(&slots, case.attach, &case.maps, &Options::default())
            .unwrap_or_else(|r| panic!("{name}: the verifier rejects an accept case: {r:?}"));
        // A context with distinct bytes, so field reads are told apart.
        let ctx: Vec<u8> = (0..case.attach.context_size())
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
            .collect();
        if let Err(trap) = differential(&slots, Some(&verified.facts), &case.maps, &ctx) {
            panic!("{name}: the interpreter trapped on a verified program: {trap:?}");
        }
        ran += 1;
    }
    assert!(
        ran >= 10,
        "only {ran} accept cases found in {}",
        dir.display()
    );
}
