//! Golden tests: every `cases/invalid/*.probe` must be rejected with exactly
//! the diagnostics in its `.stderr`; every `cases/valid/*.probe` must
//! compile, pass the verifier, and match its `.ast`, `.bytecode` and (if it
//! warns) `.stderr`. Adding a case means adding a `.probe` file; run
//! `BLESS=1 cargo test -p capscope-lang --test cases` to write its goldens,
//! then read them before committing.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(format!("{ROOT}/tests/cases/{dir}"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "probe"))
        .collect();
    v.sort();
    v
}

/// Compare with (or, under BLESS=1, write) the golden file; returns a
/// description of the mismatch.
fn golden(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("BLESS").is_some() {
        if actual.is_empty() {
            let _ = std::fs::remove_file(path);
        } else {
            std::fs::write(path, actual).unwrap();
        }
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{} differs\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )
    })
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn invalid_programs_are_rejected_with_their_diagnostics() {
    let all = cases("invalid");
    assert!(all.len() >= 40, "only {} invalid cases", all.len());
    let mut failures = Vec::new();
    for p in &all {
        let src = std::fs::read_to_string(p).unwrap();
        match capscope_lang::compile(&src) {
            Ok(_) => failures.push(format!("{} compiled", p.display())),
            Err(e) => {
                let out = e.render(&name(p), &src);
                failures.extend(golden(&p.with_extension("stderr"), &out));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The maps, formats, and each program's code with its line table.
fn bytecode_dump(obj: &capscope_bytecode::object::ProbeObject, src: &str) -> String {
    let mut s = String::new();
    for (i, m) in obj.maps.iter().enumerate() {
        let d = &m.display;
        let _ = writeln!(
            s,
            "map[{i}] {} {} key={} value={} entries={} agg={:?} print_at_end={}",
            m.name, m.kind, m.key_size, m.value_size, m.max_entries, d.aggregation, d.print_at_end
        );
        let fields = |f: &[capscope_bytecode::object::DisplayField]| {
            f.iter()
                .map(|f| format!("{}:{:?}", f.offset, f.format))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !d.key.is_empty() || !d.value.is_empty() {
            let _ = writeln!(
                s,
                "    key [{}] value [{}]",
                fields(&d.key),
                fields(&d.value)
            );
        }
    }
    for (i, f) in obj.formats.iter().enumerate() {
        let args: Vec<String> = f
            .args
            .iter()
            .map(|a| format!("{:?}/{}", a.conv, a.size))
            .collect();
        let _ = writeln!(s, "format[{i}] {:?} [{}]", f.template, args.join(" "));
    }
    for p in &obj.programs {
        let _ = writeln!(
            s,
            "\nprogram {} ({:?}, period {} ns)",
            p.name, p.attach.point, p.attach.period_ns
        );
        s.push_str(&capscope_bytecode::asm::disassemble_numbered(&p.insns).unwrap());
        s.push_str("  lines:\n");
        for e in &p.lines {
            let text = src
                .get(e.span.start as usize..e.span.end as usize)
                .unwrap_or("?");
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let text: String = text.chars().take(60).collect();
            let _ = writeln!(s, "    {:>4}: {text}", e.insn);
        }
    }
    s
}

#[test]
fn valid_programs_compile_verify_and_match_their_goldens() {
    let all = cases("valid");
    assert!(all.len() >= 20, "only {} valid cases", all.len());
    let mut failures = Vec::new();
    for p in &all {
        let src = std::fs::read_to_string(p).unwrap();
        let c = match capscope_lang::compile(&src) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!(
                    "{} does not compile:\n{}",
                    p.display(),
                    e.render(&name(p), &src)
                ));
                continue;
            }
        };
        if let Err(e) = common::verify_all(&c.object) {
            failures.push(format!("{}: verifier rejects {e}", p.display()));
        }
        failures.extend(golden(&p.with_extension("ast"), &c.ast.to_string()));
        failures.extend(golden(
            &p.with_extension("bytecode"),
            &bytecode_dump(&c.object, &src),
        ));
        let warnings = capscope_lang::render(&c.warnings, &name(p), &src);
        failures.extend(golden(&p.with_extension("stderr"), &warnings));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
