//! Data-driven verifier cases: one file per case under `tests/cases/`.
//!
//! A case file is a header of `key: value` lines, a `---` line, and the
//! program in assembly (`capscope_bytecode::asm` syntax):
//!
//! ```text
//! # what the case shows (comment lines start with #)
//! attach: syscall:enter            (default BEGIN)
//! map: hash:8:8:1024               (KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES, numbered from 0)
//! rule: 5                          (the rule the case exercises; for accept cases)
//! max_path: 1000                   (optional: lower the rule-9 bound)
//! max_steps: 100                   (optional: lower the analysis budget)
//! raw: 95 00 00 00 00 00 00 00     (optional: raw slot bytes appended to the program)
//! expect: reject V041 outside the  (or `accept`; the text after the code must
//! insn: 7                           appear in the rendered rejection; insn optional)
//! ---
//! r0 = 0
//! exit
//! ```
//!
//! Adding a case means adding a file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_verifier::{Options, verify_insns};

struct Case {
    attach: AttachPoint,
    maps: Vec<MapDef>,
    rule: Option<u32>,
    max_path: Option<u64>,
    max_steps: Option<u64>,
    raw: Vec<u8>,
    expect: Expect,
    insn: Option<u32>,
    code: String,
}

enum Expect {
    Accept,
    Reject { code: String, text: String },
}

fn parse_map(spec: &str, n: usize) -> Result<MapDef, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [kind, k, v, m] = parts[..] else {
        return Err(format!("map spec `{spec}`: want KIND:KEY:VALUE:MAX"));
    };
    let num = |s: &str| {
        s.parse::<u32>()
            .map_err(|e| format!("map spec `{spec}`: {e}"))
    };
    Ok(MapDef {
        name: format!("map{n}"),
        kind: MapKind::from_name(kind).ok_or(format!("unknown map kind `{kind}`"))?,
        key_size: num(k)?,
        value_size: num(v)?,
        max_entries: num(m)?,
        display: MapDisplay::default(),
    })
}

fn parse(text: &str) -> Result<Case, String> {
    let (header, code) = text
        .split_once("\n---\n")
        .ok_or("missing `---` line between header and program")?;
    let mut case = Case {
        attach: AttachPoint::Begin,
        maps: Vec::new(),
        rule: None,
        max_path: None,
        max_steps: None,
        raw: Vec::new(),
        expect: Expect::Accept,
        insn: None,
        code: code.to_string(),
    };
    let mut saw_expect = false;
    for line in header.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or(format!("header line `{line}` is not `key: value`"))?;
        let v = v.trim();
        match k.trim() {
            "attach" => {
                case.attach =
                    AttachPoint::from_name(v).ok_or(format!("unknown attach point `{v}`"))?
            }
            "map" => {
                let n = case.maps.len();
                case.maps.push(parse_map(v, n)?);
            }
            "rule" => case.rule = Some(v.parse().map_err(|e| format!("rule: {e}"))?),
            "max_path" => case.max_path = Some(v.parse().map_err(|e| format!("max_path: {e}"))?),
            "max_steps" => case.max_steps = Some(v.parse().map_err(|e| format!("max_steps: {e}"))?),
            "raw" => {
                for b in v.split_whitespace() {
                    case.raw.push(
                        u8::from_str_radix(b, 16).map_err(|e| format!("raw byte `{b}`: {e}"))?,
                    );
                }
            }
            "insn" => case.insn = Some(v.parse().map_err(|e| format!("insn: {e}"))?),
            "expect" => {
                saw_expect = true;
                case.expect = if v == "accept" {
                    Expect::Accept
                } else if let Some(rest) = v.strip_prefix("reject ") {
                    let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
                    Expect::Reject {
                        code: code.to_string(),
                        text: text.trim().to_string(),
                    }
                } else {
                    return Err(format!(
                        "expect: `{v}` is neither accept nor reject V0xx ..."
                    ));
                }
            }
            other => return Err(format!("unknown header key `{other}`")),
        }
    }
    if !saw_expect {
        return Err("missing `expect:`".into());
    }
    Ok(case)
}

/// Which rule a code belongs to: its tens digit plus one.
fn rule_of(code: &str) -> u32 {
    code.get(2..3)
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(0)
        + 1
}

#[test]
fn every_case_file_gives_its_expected_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .map(|e| e.expect("readable dir").path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    let mut failures = String::new();
    let mut accepts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut rejects: BTreeMap<u32, usize> = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("readable case");
        let case = match parse(&text) {
            Ok(c) => c,
            Err(e) => {
                writeln!(failures, "{name}: bad case file: {e}").unwrap();
                continue;
            }
        };
        let insns = match assemble(&case.code) {
            Ok(mut i) => {
                // raw slots (for encodings the assembler cannot write) follow
                // the assembled program
                i.extend(
                    capscope_bytecode::insn::slots_from_bytes(&case.raw).expect("whole slots"),
                );
                i
            }
            Err(e) => {
                writeln!(failures, "{name}: does not assemble: {e}").unwrap();
                continue;
            }
        };
        let mut opts = Options::default();
        if let Some(p) = case.max_path {
            opts.max_path = p;
        }
        if let Some(p) = case.max_steps {
            opts.max_steps = p;
        }
        let got = verify_insns(&insns, case.attach, &case.maps, &opts);
        match (&case.expect, got) {
            (Expect::Accept, Ok(_)) => {
                *accepts.entry(case.rule.unwrap_or(0)).or_default() += 1;
            }
            (Expect::Accept, Err(r)) => {
                writeln!(failures, "{name}: expected accept, got\n{r}").unwrap();
            }
            (Expect::Reject { code, .. }, Ok(v)) => writeln!(
                failures,
                "{name}: expected reject {code}, accepted ({} steps)",
                v.stats.insns_processed
            )
            .unwrap(),
            (Expect::Reject { code, text }, Err(r)) => {
                let rendered = r.to_string();
                if r.code.to_string() != *code || !rendered.contains(text.as_str()) {
                    writeln!(
                        failures,
                        "{name}: expected {code} containing {text:?}, got\n{rendered}"
                    )
                    .unwrap();
                } else if case.insn.is_some_and(|i| i != r.insn.0) {
                    writeln!(
                        failures,
                        "{name}: expected insn {:?}, got {}\n{rendered}",
                        case.insn, r.insn
                    )
                    .unwrap();
                } else {
                    *rejects.entry(rule_of(code)).or_default() += 1;
                }
            }
        }
    }
    println!("accept cases by rule: {accepts:?}");
    println!("reject cases by rule: {rejects:?}");
    assert!(failures.is_empty(), "failing cases:\n{failures}");
    let (na, nr) = (
        accepts.values().sum::<usize>(),
        rejects.values().sum::<usize>(),
    );
    assert!(na >= 50, "only {na} accept cases");
    assert!(nr >= 100, "only {nr} reject cases");
    for rule in 1..=9 {
        assert!(
            rejects.get(&rule).copied().unwrap_or(0) >= 3,
            "rule {rule} has fewer than 3 reject cases"
        );
    }
    assert!(
        accepts.get(&10).copied().unwrap_or(0) >= 2,
        "rule 10 needs accept cases"
    );
}
