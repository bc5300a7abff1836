//! The language reference and the probe library compile and verify.
//!
//! Every ```probe block of docs/language.md and every script in probes/ is
//! compiled, and every program it yields must be accepted by the verifier
//! as generated. The docs must list every diagnostic code.

mod common;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn doc() -> String {
    std::fs::read_to_string(format!("{ROOT}/../docs/language.md")).unwrap()
}

/// The ```probe blocks, with the line each starts on.
fn probe_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        match &mut cur {
            None if line.trim() == "```probe" => cur = Some((n + 2, String::new())),
            Some(_) if line.trim() == "```" => out.extend(cur.take()),
            Some((_, s)) => {
                s.push_str(line);
                s.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn every_doc_example_compiles_and_verifies() {
    let blocks = probe_blocks(&doc());
    assert!(blocks.len() >= 25, "only {} examples", blocks.len());
    let mut failures = Vec::new();
    for (line, src) in &blocks {
        match capscope_lang::compile(src) {
            Ok(c) => {
                if let Err(e) = common::verify_all(&c.object) {
                    failures.push(format!("docs/language.md:{line}: verifier: {e}"));
                }
            }
            Err(e) => failures.push(format!(
                "docs/language.md:{line}:\n{}",
                e.render("example", src)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_done_when_one_liners_are_in_the_docs() {
    let doc = doc();
    for one_liner in [
        "cap:alloc { @live[task, args.slot] = ustack; } cap:free { delete(@live[task, args.slot]); }",
        "irq:entry { @s[cpu] = nsecs; } irq:exit /@s[cpu]/ { @lat = hist(nsecs - @s[cpu]); delete(@s[cpu]); }",
        "interval:s:1 { print(@); clear(@); }",
        "cap:map /args.overmap/",
        "cap:invoke /args.label != args.expected/",
    ] {
        assert!(doc.contains(one_liner), "missing: {one_liner}");
    }
}

#[test]
fn every_probe_script_compiles_cleanly_and_verifies() {
    let mut n = 0;
    for e in std::fs::read_dir(format!("{ROOT}/../probes")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|e| e != "probe") {
            continue;
        }
        n += 1;
        let src = std::fs::read_to_string(&p).unwrap();
        assert!(
            src.starts_with("// "),
            "{} needs a header comment",
            p.display()
        );
        let c = common::compile(&src);
        assert!(
            c.warnings.is_empty(),
            "{}:\n{}",
            p.display(),
            capscope_lang::render(&c.warnings, &p.display().to_string(), &src)
        );
        common::verify_all(&c.object).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    assert!(n >= 6, "only {n} probe scripts");
}

#[test]
fn every_code_is_documented() {
    let doc = doc();
    for c in capscope_lang::Code::ALL {
        let row = format!("| {} | {} |", c.as_str(), "");
        let listed = doc.lines().any(|l| l.starts_with(&row[..8]));
        assert!(listed, "docs/language.md does not list {}", c.as_str());
    }
}
