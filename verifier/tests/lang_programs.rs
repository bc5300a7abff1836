//! Every program the language emits for `probes/` and for the examples in
//! `docs/` is accepted by the verifier (issue 4: a rejection here is a bug
//! in one of the two).

use std::path::Path;

use capscope_verifier::{Options, verify};

fn check(name: &str, source: &str, failures: &mut Vec<String>) -> usize {
    // Examples that do not compile (error demonstrations) are the
    // language's business; everything that compiles must verify.
    let Ok(compiled) = capscope_lang::compile(source) else {
        return 0;
    };
    let mut n = 0;
    for p in &compiled.object.programs {
        n += 1;
        if let Err(r) = verify(p, &compiled.object.maps, &Options::default()) {
            failures.push(format!(
                "{name}: program `{}`:\n{r}\nsource:\n{source}",
                p.name
            ));
        }
    }
    n
}

#[test]
fn every_probe_and_doc_example_verifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut failures = Vec::new();
    let mut programs = 0;
    let mut probes: Vec<_> = std::fs::read_dir(root.join("probes"))
        .expect("probes/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "probe"))
        .collect();
    probes.sort();
    for p in &probes {
        let text = std::fs::read_to_string(p).unwrap();
        programs += check(&p.display().to_string(), &text, &mut failures);
    }
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for d in &docs {
        let text = std::fs::read_to_string(d).unwrap();
        let mut rest = text.as_str();
        let mut k = 0;
        while let Some(start) = rest.find("```probe\n") {
            let body = &rest[start + 9..];
            let Some(end) = body.find("```") else { break };
            k += 1;
            programs += check(
                &format!("{} example {k}", d.display()),
                &body[..end],
                &mut failures,
            );
            rest = &body[end + 3..];
        }
    }
    println!("{} probe files, {programs} programs verified", probes.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        programs >= probes.len(),
        "too few programs compiled: {programs}"
    );
}
