//! `capscope asm` and `capscope disasm` through real files and processes:
//! round trips, error reports and exit codes (0 ok, 1 rejected input,
//! 2 usage or I/O errors).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::slots_to_bytes;

fn capscope() -> Command {
    Command::cargo_bin("capscope").expect("the capscope binary is built")
}

fn asm_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bytecode/tests/asm")
        .join(rel)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run and return the output, checking the exit code.
fn run(cmd: &mut Command, code: i32) -> std::process::Output {
    let out = cmd.output().expect("capscope runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    out
}

#[test]
fn golden_programs_round_trip_through_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    for entry in std::fs::read_dir(asm_data("golden")).expect("golden dir") {
        let src = entry.expect("entry").path();
        if src.extension().is_none_or(|e| e != "s") {
            continue;
        }
        let bin = dir.path().join("a.bin");
        let text = dir.path().join("a.s");
        let bin2 = dir.path().join("b.bin");
        run(capscope().arg("asm").arg(&src).arg("-o").arg(&bin), 0);
        let want = slots_to_bytes(&assemble(&std::fs::read_to_string(&src).unwrap()).unwrap());
        assert_eq!(std::fs::read(&bin).unwrap(), want, "{}", src.display());
        let out = run(capscope().arg("disasm").arg(&bin), 0);
        std::fs::write(&text, &out.stdout).unwrap();
        run(
            capscope().arg("asm").arg(&text).arg("--output").arg(&bin2),
            0,
        );
        assert_eq!(std::fs::read(&bin2).unwrap(), want, "{}", src.display());
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn any_valid_raw_program_survives_disasm_then_asm() {
    // Every instruction form of the encodings table, as one raw program.
    let table = std::fs::read_to_string(asm_data("encodings.txt")).unwrap();
    let bytes: Vec<u8> = table
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .flat_map(|l| {
            let hex = l.split_once(" | ").expect("HEX | TEXT").0;
            hex.split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).expect("hex"))
                .collect::<Vec<_>>()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("all.bin");
    let back = dir.path().join("back.bin");
    std::fs::write(&bin, &bytes).unwrap();
    let text = run(capscope().arg("disasm").arg(&bin), 0).stdout;
    run(
        capscope()
            .args(["asm", "-", "-o"])
            .arg(&back)
            .write_stdin(text),
        0,
    );
    assert_eq!(std::fs::read(&back).unwrap(), bytes);
}

#[test]
fn standard_streams_and_numbered_listing() {
    let out = run(
        capscope()
            .args(["asm", "-", "-o", "-"])
            .write_stdin("r0 = 0x100000000 ll\nexit\n"),
        0,
    );
    assert_eq!(out.stdout.len(), 24);
    let listing = run(
        capscope()
            .args(["disasm", "--numbered", "-"])
            .write_stdin(out.stdout.clone()),
        0,
    );
    assert_eq!(
        String::from_utf8(listing.stdout).unwrap(),
        "0: r0 = 0x100000000 ll\n2: exit\n"
    );
    let plain = run(capscope().args(["disasm", "-"]).write_stdin(out.stdout), 0);
    assert_eq!(
        String::from_utf8(plain.stdout).unwrap(),
        "r0 = 0x100000000 ll\nexit\n"
    );
}

#[test]
fn assembly_errors_name_file_line_and_column_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bad.s");
    let bin = dir.path().join("bad.bin");
    std::fs::write(
        &src,
        "r0 = 0\n\tw1 += r2 ; mixed\nr11 = 3\ngoto nowhere\nexit\n",
    )
    .unwrap();
    let out = run(capscope().arg("asm").arg(&src).arg("-o").arg(&bin), 1);
    let err = stderr_of(&out);
    let name = src.display().to_string();
    for want in [
        format!("{name}:2:8"),
        "error[register-width]: expected a 32-bit register (w0-w10), like the destination, found `r2`".into(),
        format!("{name}:3:1"),
        "error[bad-register]".into(),
        format!("{name}:4:6"),
        "error[unknown-label]: unknown label `nowhere`".into(),
        "3 errors in assembly, nothing written".into(),
        // The offending line, with the span underlined (codespan's style,
        // like every other diagnostic capscope prints).
        "3 │ r11 = 3\n  │ ^^^\n".into(),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    assert!(out.stdout.is_empty());
    assert!(!bin.exists(), "nothing is written on error");
}

#[test]
fn invalid_bytecode_is_rejected_with_the_instruction_index() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "truncated",
            vec![0x95, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0],
            "instruction 1: truncated, only 3 of 8 bytes",
        ),
        (
            "unknown",
            vec![0xb7, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0],
            "instruction 1: unknown opcode 0xff",
        ),
        (
            "lddw",
            vec![0x95, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 1, 0, 0, 0],
            "instruction 1: lddw at the end of the program has no second half",
        ),
        (
            "dirty_lddw",
            vec![0x18, 1, 0, 0, 1, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0],
            "instruction 0: second half of lddw must be zero except for its immediate",
        ),
        (
            "legacy",
            vec![0x30, 0, 0, 0, 0, 0, 0, 0],
            "instruction 0: legacy packet access (ABS/IND) is not supported",
        ),
        (
            "register",
            vec![0xb7, 0x0b, 0, 0, 0, 0, 0, 0],
            "instruction 0: register r11 does not exist",
        ),
    ];
    for (name, bytes, want) in cases {
        let bin = dir.path().join(format!("{name}.bin"));
        std::fs::write(&bin, bytes).unwrap();
        let out = run(capscope().arg("disasm").arg(&bin), 1);
        let err = stderr_of(&out);
        assert!(err.contains(want), "{name}: missing `{want}` in:\n{err}");
        assert!(out.stdout.is_empty(), "{name}: no partial listing");
    }
}

#[test]
fn an_object_file_gets_a_hint() {
    let mut bytes = capscope_bytecode::object::MAGIC.to_vec();
    bytes.extend_from_slice(&[1, 0, 0, 0]);
    let out = run(capscope().args(["disasm", "-"]).write_stdin(bytes), 1);
    assert!(stderr_of(&out).contains("is a capscope probe object, not raw bytecode"));
}

#[test]
fn binary_input_to_asm_is_rejected() {
    let out = run(
        capscope()
            .args(["asm", "-", "-o", "-"])
            .write_stdin(vec![0xff, 0xfe, 0x95]),
        1,
    );
    assert!(stderr_of(&out).contains("not UTF-8 text"));
}

#[test]
fn io_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.s");
    let out = run(capscope().arg("disasm").arg(&missing), 2);
    assert!(stderr_of(&out).contains("cannot read"));
    run(capscope().arg("asm").arg(&missing).args(["-o", "-"]), 2);
    let src = dir.path().join("ok.s");
    std::fs::write(&src, "exit\n").unwrap();
    let out = run(
        capscope()
            .arg("asm")
            .arg(&src)
            .arg("-o")
            .arg(dir.path().join("no/such/dir/x.bin")),
        2,
    );
    assert!(stderr_of(&out).contains("cannot write"));
    // Missing -o, missing input, unknown flag: clap's usage errors.
    run(capscope().arg("asm").arg(&src), 2);
    run(capscope().arg("disasm"), 2);
    run(capscope().args(["disasm", "--frobnicate", "x"]), 2);
}

#[test]
fn help_describes_syntax_and_exit_status() {
    for (cmd, wants) in [
        ("asm", ["llvm-objdump", "Exit status", "lddw", "FILE.bin"]),
        (
            "disasm",
            [
                "llvm-objdump",
                "Exit status",
                "instruction index",
                "--numbered",
            ],
        ),
    ] {
        let out = run(capscope().args([cmd, "--help"]), 0);
        let help = String::from_utf8(out.stdout).unwrap();
        for want in wants {
            assert!(
                help.contains(want),
                "`capscope {cmd} --help` lacks `{want}`:\n{help}"
            );
        }
    }
}
