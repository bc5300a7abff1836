//! Every program of every script in `probes/`, compiled by the language and
//! verified, runs on the interpreter and on the JIT (with the verifier's
//! facts) over several synthetic contexts; they must agree on r0, maps and
//! ring-buffer records. Adding a probe adds its programs here.

mod common;

use std::path::Path;

use capscope_verifier::{Options, verify_insns};
use common::diff::differential;

/// Context bytes of `len` from a seed: a few distinct patterns, so that
/// predicates and buckets take different paths.
fn context(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| match seed {
            0 => 0,
            1 => (i as u8).wrapping_mul(37).wrapping_add(11),
            _ => 0xff ^ (i as u8).wrapping_mul(seed),
        })
        .collect()
}

#[test]
fn probe_library_agrees_on_both_engines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../probes");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .expect("probes/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "probe"))
        .collect();
    scripts.sort();
    let mut programs = 0;
    for path in &scripts {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(path).unwrap();
        let compiled = capscope_lang::compile(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.render(&name, &source)));
        let obj = compiled.object;
        for prog in &obj.programs {
            let point = prog.attach.point;
            let verified = verify_insns(&prog.insns, point, &obj.maps, &Options::default())
                .unwrap_or_else(|r| panic!("{name} {}: rejected: {r}", prog.name));
            for seed in [0u8, 1, 7] {
                let ctx = context(point.context_size(), seed);
                if let Err(trap) = differential(&prog.insns, Some(&verified.facts), &obj.maps, &ctx)
                {
                    panic!("{name} {}: the interpreter trapped: {trap:?}", prog.name);
                }
            }
            programs += 1;
        }
    }
    assert!(
        programs >= scripts.len(),
        "{programs} programs in {} scripts",
        scripts.len()
    );
}
