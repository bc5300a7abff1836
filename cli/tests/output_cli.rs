//! `capscope exec` output end to end: bpftrace's text layout, and `-f json`
//! lines that each parse, with the fields docs/language.md documents.

use assert_cmd::Command;
use serde_json::{Value, json};

/// One program that touches every kind of output: printf, a keyed count
/// with a symbolic key, a log2 and a linear histogram, stats, avg, max and
/// a stack.
const SCRIPT: &str = r#"syscall:enter {
    printf("nr %d \"quoted\"\n", args.nr);
    @calls[args.nr, comm] = count();
    @sizes = hist(args.arg1);
    @linear[task] = lhist(args.arg1, 0, 100, 10);
    @summary = stats(args.arg1);
    @mean = avg(args.arg1);
    @largest = max(args.arg1);
    @where = ustack;
}"#;

fn exec(extra: &[&str]) -> (String, String, i32) {
    let out = Command::cargo_bin("capscope")
        .unwrap()
        .args([
            "exec",
            "-e",
            SCRIPT,
            "--ctx",
            "nr=SYS_MAP",
            "--ctx",
            "arg1=42",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn text_is_bpftrace_style() {
    let (out, _, code) = exec(&[]);
    assert_eq!(code, 0);
    let bar = "@".repeat(52);
    for expected in [
        "nr 8 \"quoted\"\n".to_string(),
        "@calls[map, init]: 1\n\n".to_string(),
        format!("@sizes:\n[32, 64)               1 |{bar}|\n\n"),
        format!("@linear[1]:\n[40, 50)               1 |{bar}|\n\n"),
        "@summary: count 1, average 42, total 42\n\n".to_string(),
        "@mean: 42\n\n".to_string(),
        "@largest: 42\n\n".to_string(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    // The host platform's synthetic stack: one frame per line, indented,
    // in hex (no ELF to name them).
    assert!(out.contains("@where:\n        0x"), "{out}");
}

#[test]
fn json_lines_parse_with_documented_fields() {
    let (out, _, code) = exec(&["-f", "json"]);
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    for l in &lines {
        assert!(l["type"].is_string(), "{l}");
        assert!(l.get("data").is_some(), "{l}");
        assert_eq!(l.as_object().unwrap().len(), 2, "only type and data: {l}");
    }
    let by_type = |t: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["type"] == t)
            .map(|l| &l["data"])
            .collect()
    };
    assert_eq!(by_type("result"), [&json!({"r0": 0})]);
    assert_eq!(by_type("printf"), [&json!("nr 8 \"quoted\"\n")]);
    let maps = by_type("map");
    assert!(
        maps.contains(&&json!({"@calls": {"map,init": 1}})),
        "{maps:?}"
    );
    assert!(maps.contains(&&json!({"@largest": 42})), "{maps:?}");
    let stack = maps
        .iter()
        .find_map(|m| m.get("@where"))
        .expect("the stack map");
    assert!(
        stack.as_array().is_some_and(|a| !a.is_empty()
            && a.iter()
                .all(|f| f.as_str().is_some_and(|s| s.starts_with("0x")))),
        "a stack is an array of frames: {stack}"
    );
    let hists = by_type("hist");
    assert!(
        hists.contains(&&json!({"@sizes": [{"min": 32, "max": 63, "count": 1}]})),
        "{hists:?}"
    );
    assert!(
        hists.contains(&&json!({"@linear": {"1": [{"min": 40, "max": 49, "count": 1}]}})),
        "{hists:?}"
    );
    let stats = by_type("stats");
    assert!(
        stats.contains(&&json!({"@summary": {"count": 1, "average": 42, "total": 42}})),
        "{stats:?}"
    );
    assert!(stats.contains(&&json!({"@mean": 42})), "{stats:?}");
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let out = Command::cargo_bin("capscope")
        .unwrap()
        .args(["exec", "-f", "yaml", "-e", "BEGIN { exit(); }"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown format is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("json"));
}
