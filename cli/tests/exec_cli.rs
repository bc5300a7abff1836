//! `capscope exec`: running raw programs on synthetic events.

use std::path::PathBuf;

use assert_cmd::Command;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::slots_to_bytes;

/// Write `text`, assembled, to a temp file; returns the dir (kept alive) and path.
fn program(text: &str) -> (tempfile::TempDir, PathBuf) {
    bytes(&slots_to_bytes(
        &assemble(text).expect("test program assembles"),
    ))
}

fn bytes(b: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("prog.bin");
    std::fs::write(&path, b).expect("write program");
    (dir, path)
}

/// `capscope exec --engine interp --raw PATH ...`: these tests are about
/// the reference interpreter (steps, traps on unverified programs), so they
/// name it rather than rely on the default engine.
fn exec(path: &PathBuf, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("capscope")
        .expect("binary")
        .args(["exec", "--engine", "interp", "--raw"])
        .arg(path)
        .args(extra)
        .assert()
}

fn out(a: &assert_cmd::assert::Assert) -> (String, String) {
    let o = a.get_output();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Count events per slot: the classic probe.
const COUNT_BY_SLOT: &str = "
    r6 = *(u32 *)(r1 + 28)          ; args.slot
    *(u32 *)(r10 - 4) = r6
    r1 = map[0] ll
    r2 = r10
    r2 += -4
    call map_lookup_elem
    if r0 != 0 goto hit
    *(u64 *)(r10 - 16) = 1
    r1 = map[0] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call map_update_elem
    goto out
hit:
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 0
    exit
";

#[test]
fn runs_and_prints_r0_and_maps() {
    let (_d, p) = program(COUNT_BY_SLOT);
    let a = exec(
        &p,
        &[
            "--attach",
            "cap:alloc",
            "--map",
            "hash:4:8:16",
            "--ctx",
            "slot=3",
        ],
    )
    .success();
    let (stdout, _) = out(&a);
    assert!(stdout.contains("r0 = 0 (0x0)\n"), "{stdout}");
    assert!(stdout.contains("steps = 18\n"), "{stdout}");
    assert!(
        stdout.contains("map0: hash key_size=4 value_size=8 max_entries=16, 1 entry, 0 drops\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("@map0[03000000]: 0100000000000000\n"),
        "{stdout}"
    );
}

#[test]
fn arrays_show_touched_entries() {
    let (_d, p) = program(COUNT_BY_SLOT);
    let a = exec(
        &p,
        &[
            "--attach",
            "cap:alloc",
            "--map",
            "array:4:8:8",
            "--ctx",
            "slot=0x5",
        ],
    )
    .success();
    let (stdout, _) = out(&a);
    assert!(
        stdout.contains("@map0[05000000]: 0100000000000000\n"),
        "{stdout}"
    );
}

#[test]
fn ctx_fields_take_named_constants_and_signed_values() {
    let (_d, p) = program("r0 = *(u32 *)(r1 + 32)\n exit"); // cap:alloc kind
    let a = exec(&p, &["--attach", "cap:alloc", "--ctx", "kind=KIND_GATE"]).success();
    assert!(out(&a).0.starts_with("r0 = 4 (0x4)\n"));
    let (_d, p) = program("r0 = *(u64 *)(r1 + 32)\n exit"); // syscall:exit ret
    let a = exec(&p, &["--attach", "syscall:exit", "--ctx", "ret=-EPROTO"]).success();
    let (stdout, _) = out(&a);
    assert!(
        stdout.starts_with("r0 = 18446744073709551545 (0xffffffffffffffb9, -71)\n"),
        "{stdout}"
    );
}

#[test]
fn header_defaults_and_helpers_agree() {
    // task from the context and from the helper are the same (task 1 by default, 9 here)
    let (_d, p) = program(
        "
        r6 = *(u32 *)(r1 + 12)
        call get_current_pid_tgid
        r0 >>= 32
        r0 -= r6
        exit
        ",
    );
    let a = exec(&p, &["--attach", "BEGIN", "--ctx", "task=9"]).success();
    assert!(out(&a).0.starts_with("r0 = 0 (0x0)\n"));
    let (_d, p) = program("r0 = *(u64 *)(r1 + 0)\n exit");
    let a = exec(&p, &["--attach", "interval:ms:10"]).success();
    assert!(out(&a).0.starts_with("r0 = 1000000000 "));
}

#[test]
fn ring_buffer_records_and_per_cpu_maps() {
    let (_d, p) = program(
        "
        *(u32 *)(r10 - 8) = 0x04030201
        r1 = map[0] ll
        r2 = r10
        r2 += -8
        r3 = 4
        r4 = 0
        call ringbuf_output
        *(u32 *)(r10 - 4) = 0
        r1 = map[1] ll
        r2 = r10
        r2 += -4
        call map_lookup_elem
        if r0 == 0 goto +2
        r1 = 7
        *(u64 *)(r0 + 0) = r1
        r0 = 0
        exit
        ",
    );
    let a = exec(
        &p,
        &[
            "--attach",
            "irq:entry",
            "--map",
            "ringbuf:0:0:4096",
            "--map",
            "percpu_array:4:8:1",
            "--cpus",
            "2",
            "--ctx",
            "cpu=1",
        ],
    )
    .success();
    let (stdout, _) = out(&a);
    assert!(
        stdout.contains("map0: ringbuf max_entries=4096, 1 record, 0 drops\n  record 01020304\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("@map1[00000000]: cpu0=0000000000000000 cpu1=0700000000000000\n"),
        "{stdout}"
    );
}

#[test]
fn traps_name_the_instruction_and_exit_1() {
    let (_d, p) = program("r0 = 0\n r1 = *(u64 *)(r10 + 0)\n exit");
    let a = exec(&p, &["--attach", "cap:free"]).code(1);
    let (_, stderr) = out(&a);
    assert!(
        stderr.contains("instruction 1: out-of-bounds read of 8 bytes at 0x"),
        "{stderr}"
    );
    assert!(stderr.contains("1: r1 = *(u64 *)(r10 + 0)"), "{stderr}");

    let (_d, p) = program("r0 = r10\n exit");
    let a = exec(&p, &["--attach", "cap:free"]).code(1);
    assert!(
        out(&a)
            .1
            .contains("instruction 1: a pointer would leak into the return value r0")
    );

    let (_d, p) = program("r0 = 0\n goto -1\n exit");
    let a = exec(&p, &["--attach", "cap:free", "--fuel", "50"]).code(1);
    assert!(
        out(&a)
            .1
            .contains("instruction 1: instruction budget (fuel) exhausted")
    );

    let (_d, p) = program("r1 = map[0] ll\n r0 = 0\n exit");
    let a = exec(&p, &["--attach", "cap:free"]).code(1);
    assert!(out(&a).1.contains("instruction 0: map 0 does not exist"));
}

#[test]
fn invalid_programs_exit_1() {
    let mut b = slots_to_bytes(&assemble("r0 = 0\n exit").unwrap());
    b.splice(8..8, [0xff, 0, 0, 0, 0, 0, 0, 0]);
    let (_d, p) = bytes(&b);
    let a = exec(&p, &["--attach", "cap:map"]).code(1);
    assert!(
        out(&a)
            .1
            .contains("instruction 1: invalid instruction: unknown opcode 0xff"),
        "{}",
        out(&a).1
    );

    let (_d, p) = bytes(&[0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0]);
    let a = exec(&p, &["--attach", "cap:map"]).code(1);
    assert!(
        out(&a)
            .1
            .contains("instruction 1: truncated, only 3 of 8 bytes")
    );

    let (_d, p) = bytes(&[]);
    let a = exec(&p, &["--attach", "cap:map"]).code(1);
    assert!(out(&a).1.contains("the program is empty"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let (_d, p) = program("r0 = 0\n exit");
    let a = exec(&p, &["--attach", "cap:nope"]).code(2);
    assert!(out(&a).1.contains("unknown attach point `cap:nope`"));
    let a = exec(&p, &["--attach", "cap:alloc", "--ctx", "vector=3"]).code(2);
    assert!(
        out(&a)
            .1
            .contains("cap:alloc has no field `vector` (fields: timestamp_ns, cpu, task")
    );
    let a = exec(&p, &["--attach", "cap:alloc", "--ctx", "slot=nonsense"]).code(2);
    assert!(
        out(&a)
            .1
            .contains("`nonsense` is not a number or a named constant")
    );
    let a = exec(&p, &["--attach", "cap:alloc", "--ctx", "slot=0x100000000"]).code(2);
    assert!(out(&a).1.contains("does not fit `slot`, a u32"));
    let a = exec(&p, &["--attach", "cap:alloc", "--map", "hash:4:8"]).code(2);
    assert!(out(&a).1.contains("KIND:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES"));
    let a = exec(&p, &["--attach", "cap:alloc", "--map", "ringbuf:0:0:100"]).code(2);
    assert!(out(&a).1.contains("power of two"));
    let missing = PathBuf::from("/nonexistent/prog.bin");
    let a = exec(&missing, &["--attach", "cap:alloc"]).code(2);
    assert!(out(&a).1.contains("cannot read"));
    // --raw needs --attach
    Command::cargo_bin("capscope")
        .unwrap()
        .args(["exec", "--raw"])
        .arg(&p)
        .assert()
        .code(2);
    Command::cargo_bin("capscope")
        .unwrap()
        .args(["exec", "--attach", "BEGIN"])
        .assert()
        .code(2);
}
