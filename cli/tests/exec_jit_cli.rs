//! `capscope exec` with the JIT (the default engine), `--bench N` and
//! `--emit clif|asm`, end to end through the binary.

use assert_cmd::Command;

fn capscope() -> Command {
    Command::cargo_bin("capscope").unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = capscope().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const SCRIPT: &str =
    "syscall:enter { @[args.nr] = count(); @s = sum(args.arg0); @h = hist(args.arg0); }";

#[test]
fn jit_is_the_default_and_agrees_with_the_interpreter() {
    let ctx = ["--ctx", "nr=7", "--ctx", "arg0=1000"];
    let (code, jit, err) = run(&[&["exec", "-e", SCRIPT][..], &ctx].concat());
    assert_eq!(code, 0, "{err}");
    let (code, interp, err) =
        run(&[&["exec", "-e", SCRIPT, "--engine", "interp"][..], &ctx].concat());
    assert_eq!(code, 0, "{err}");
    // Same r0 and maps; only the interpreter counts steps.
    let without_steps: String = interp
        .lines()
        .filter(|l| !l.starts_with("steps = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(jit, without_steps);
    assert!(jit.contains("@s: 1000"), "{jit}");
}

#[test]
fn bench_prints_ns_per_run_and_runs_n_times() {
    for engine in ["jit", "interp"] {
        let (code, out, err) = run(&[
            "exec",
            "-e",
            "BEGIN { @c = count(); }",
            "--engine",
            engine,
            "--bench",
            "50",
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!(" ns per run ({engine}, mean of 50 runs)")),
            "{out}"
        );
        assert!(out.contains("@c: 50"), "{out}");
    }
    let (code, _, err) = run(&["exec", "-e", "BEGIN { @c = count(); }", "--bench", "0"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn emit_shows_ir_and_machine_code() {
    let (code, out, err) = run(&["exec", "-e", "BEGIN { @c = count(); }", "--emit", "clif"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("function") && out.contains("call_indirect"),
        "{out}"
    );
    let (code, out, err) = run(&["exec", "-e", "BEGIN { @c = count(); }", "--emit", "asm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("call") && out.contains("ret"), "{out}");
}

#[test]
fn unverified_raw_programs_are_refused_by_the_jit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.bin");
    // r0 = r2 (never written); exit
    std::fs::write(
        &path,
        [0xbf, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let (code, _, err) = run(&["exec", "--raw", p, "--attach", "BEGIN"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the JIT cannot run it") && err.contains("--engine interp"),
        "{err}"
    );
    // The interpreter runs it and traps on the read.
    let (code, _, err) = run(&[
        "exec", "--raw", p, "--attach", "BEGIN", "--engine", "interp",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("r2"), "{err}");
}
