//! `capscope check` and script support in `capscope exec`, end to end
//! through the binary: exit codes, diagnostics, `--emit`.

use assert_cmd::Command;

fn capscope() -> Command {
    Command::cargo_bin("capscope").unwrap()
}

const PROBES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../probes");

#[test]
fn every_probe_script_checks() {
    for name in [
        "cap-leak",
        "cap-overmap",
        "cap-protocol",
        "irq-latency",
        "syscall-count",
        "pagefault",
    ] {
        capscope()
            .args(["check", &format!("{PROBES}/{name}.probe")])
            .assert()
            .success()
            .stderr("");
    }
}

#[test]
fn a_valid_one_liner_exits_0() {
    capscope()
        .args([
            "check",
            "-e",
            "syscall:enter { @[task, args.nr] = count(); } interval:s:1 { print(@); clear(@); }",
        ])
        .assert()
        .success();
}

#[test]
fn errors_exit_1_with_codes_spans_and_help() {
    let out = capscope()
        .args([
            "check",
            "-e",
            "cap:aloc { @x = count(); }\nsyscall:enter { @y = retval; }",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("error[E020]: unknown probe `cap:aloc`"),
        "{err}"
    );
    assert!(err.contains("<program>:1:1"), "{err}");
    assert!(err.contains("help: did you mean `cap:alloc`?"), "{err}");
    assert!(
        err.contains("error[E033]"),
        "both independent errors are reported: {err}"
    );
    assert!(
        !err.contains("\u{1b}["),
        "no colors when stderr is not a terminal"
    );
}

#[test]
fn warnings_do_not_fail() {
    let out = capscope()
        .args(["check", "-e", "BEGIN { $unused = 1; }"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("warning[W001]")
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    capscope()
        .args(["check", "/nonexistent/script.probe"])
        .assert()
        .code(2);
    capscope().args(["check"]).assert().code(2);
    capscope()
        .args(["check", "-e", "BEGIN {}", "x.probe"])
        .assert()
        .code(2);
}

#[test]
fn emit_ast_and_bytecode() {
    let out = capscope()
        .args([
            "check",
            "--emit",
            "ast",
            "-e",
            "cap:alloc /args.kind == KIND_GATE/ { @g[task] = count(); }",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let ast = String::from_utf8(out.stdout).unwrap();
    assert!(ast.contains("probe cap:alloc"), "{ast}");
    assert!(ast.contains("predicate (== args.kind KIND_GATE)"), "{ast}");
    let out = capscope()
        .args([
            "check",
            "--emit",
            "bytecode",
            &format!("{PROBES}/cap-leak.probe"),
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let code = String::from_utf8(out.stdout).unwrap();
    assert!(code.contains("map[0] @live hash"), "{code}");
    assert!(code.contains("call get_stackid"), "{code}");
    assert!(code.contains("call map_delete_elem"), "{code}");
}

#[test]
fn exec_runs_a_script_on_a_synthetic_event() {
    let out = capscope()
        .args([
            "exec",
            "-e",
            "cap:alloc /args.kind == KIND_GATE/ { @gates[args.slot] = count(); }",
        ])
        .args(["--ctx", "kind=KIND_GATE", "--ctx", "slot=3"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("r0 = 0"), "{text}");
    assert!(text.contains("@gates[3]: 1"), "{text}");
}

#[test]
fn exec_needs_probe_when_a_script_has_several_and_rejects_bad_scripts() {
    capscope()
        .args(["exec", &format!("{PROBES}/cap-leak.probe")])
        .assert()
        .code(2);
    capscope()
        .args([
            "exec",
            &format!("{PROBES}/cap-leak.probe"),
            "--probe",
            "cap:alloc",
            "--ctx",
            "slot=1",
        ])
        .assert()
        .success();
    capscope()
        .args(["exec", "-e", "cap:aloc { }"])
        .assert()
        .code(1);
}
