//! `capscope verify` end to end: exit codes, the summary line, rendered
//! rejections and the verifier log.

use std::path::PathBuf;

use assert_cmd::Command;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::slots_to_bytes;

fn bin(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, slots_to_bytes(&assemble(text).expect("assembles"))).unwrap();
    p
}

fn capscope() -> Command {
    Command::cargo_bin("capscope").unwrap()
}

const COUNT: &str = "r1 = 0
*(u64 *)(r10 - 8) = r1
r2 = r10
r2 += -8
r1 = map[0] ll
call map_lookup_elem
if r0 == 0 goto +3
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
r0 = 0
exit
";

#[test]
fn accepted_program_prints_one_summary_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = bin(&dir, "count.bin", COUNT);
    let out = capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "cap:alloc", "--map", "hash:8:8:1024"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("accepted: 13 instructions"), "{stdout}");
    assert!(
        stdout.contains("states") && stdout.contains("µs"),
        "{stdout}"
    );
}

#[test]
fn unsafe_program_exits_1_with_code_instruction_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let text = COUNT.replace("if r0 == 0 goto +3\n", "");
    let p = bin(&dir, "nocheck.bin", &text);
    let out = capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "cap:alloc", "--map", "hash:8:8:1024"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("error[V040]"), "{stderr}");
    assert!(stderr.contains("r0 may be null"), "{stderr}");
    assert!(stderr.contains("r1 = *(u64 *)(r0 + 0)"), "{stderr}");
    assert!(
        stderr.contains("R0=map_value_or_null(id=1,size=8)"),
        "{stderr}"
    );
    assert!(stderr.contains("instruction 7"), "{stderr}");
}

#[test]
fn verifier_log_shows_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let p = bin(&dir, "min.bin", "r0 = 0\nexit\n");
    let out = capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "BEGIN", "--emit", "verifier-log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("0: r0 = 0  ; R1=ctx R10=fp"), "{stdout}");
    assert!(stdout.contains("1: exit  ; R0=0 R1=ctx R10=fp"), "{stdout}");
}

#[test]
fn other_failures_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = bin(&dir, "min.bin", "r0 = 0\nexit\n");
    // unknown attach point
    capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "nowhere"])
        .assert()
        .code(2);
    // bad map spec
    capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "BEGIN", "--map", "hash:8"])
        .assert()
        .code(2);
    // missing file
    capscope()
        .args(["verify", "--raw", "/nonexistent/x.bin", "--attach", "BEGIN"])
        .assert()
        .code(2);
    // a partial slot
    let odd = dir.path().join("odd.bin");
    std::fs::write(&odd, [0x95, 0, 0]).unwrap();
    capscope()
        .args(["verify", "--raw"])
        .arg(&odd)
        .args(["--attach", "BEGIN"])
        .assert()
        .code(2);
}

#[test]
fn invalid_encoding_is_a_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.bin");
    std::fs::write(&p, [0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    let out = capscope()
        .args(["verify", "--raw"])
        .arg(&p)
        .args(["--attach", "BEGIN"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("V001"));
}

#[test]
fn script_rejections_and_acceptances() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("count.probe");
    std::fs::write(&script, "cap:alloc { @[task] = count(); }\n").unwrap();
    let out = capscope().arg("verify").arg(&script).output().unwrap();
    // The language compiles this script to a program the verifier accepts.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cap:alloc: accepted"));
    let bad = dir.path().join("bad.probe");
    std::fs::write(&bad, "cap:alloc { @[task] = ; }\n").unwrap();
    capscope().arg("verify").arg(&bad).assert().code(1);
}
