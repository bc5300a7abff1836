//! The control channel through the `capscope` command, under QEMU:
//! `capscope run` end to end, kernel-verifier rejections rendered like
//! the host's, and attach sessions on a kernel that keeps running
//! (`capscope boot --control`): one after another, at the same time,
//! `ps`, `detach`, and a session that dies.

mod control_util;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use capscope_bytecode::insn::Insn;
use capscope_tests::{line, numbers};

use capscope_tests::capscope;
use control_util::{compile, socket};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run `capscope` with `args` under a time limit.
fn cli(args: &[&str], within: Duration) -> Output {
    let mut child = Command::new(capscope())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("capscope runs");
    finish(&mut child, within)
}

fn finish(child: &mut Child, within: Duration) -> Output {
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            // SIGINT first: capscope stops its QEMU on the way out.
            interrupt(child.id());
            std::thread::sleep(Duration::from_secs(3));
            let _ = child.kill();
            panic!("capscope did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

fn interrupt(pid: u32) {
    signal(pid, "-INT");
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// True if a process with `needle` in its command line is alive.
fn process_with(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|d| {
        std::fs::read(d.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
    })
}

/// `capscope run` attaches before the workload's first instruction and
/// prints exactly the workload's null syscalls: its 10,000 measured calls
/// and 100 warm-up calls, as its own console line says.
#[test]
fn run_counts_exactly_the_workloads_null_syscalls() {
    let out = cli(
        &[
            "run",
            "-w",
            "syscalls",
            "-e",
            "syscall:enter:null { @ = count(); }",
            "--timing",
        ],
        Duration::from_secs(120),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    eprintln!("{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let calls = numbers(line(&stderr.replace('\r', ""), "syscalls: "))[0];
    assert_eq!(calls, 10_000);
    assert_eq!(
        stdout.trim_end(),
        format!("Attaching 1 probe...\n@: {}", calls + 100)
    );
    assert!(
        stderr.contains("capscope: attach timing: host compile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("workload finished with status 0"),
        "{stderr}"
    );
}

/// The text of the first codespan diagnostic in `stderr`: from its
/// `error[` line through its last note.
fn diagnostic(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error["))
        .unwrap_or_else(|| panic!("no diagnostic in:\n{stderr}"));
    let mut end = start;
    for (i, l) in lines.iter().enumerate().skip(start) {
        if l.trim_start().starts_with("= ") {
            end = i;
        } else if i > start && l.starts_with("capscope") {
            break;
        }
    }
    lines[start..=end].join("\n")
}

/// A program the verifier rejects, rendered on the script: once found by
/// the host's verifier, once (with host verification skipped) by the
/// kernel's, which sends code, instruction, message, state and span back.
/// The two renderings are identical.
#[test]
fn a_kernel_rejection_reads_like_the_hosts() {
    let dir = std::env::temp_dir().join(format!("capscope-reject-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = "syscall:enter:null {\n    @calls[args.nr] = count();\n}\n";
    let script_path = dir.join("count.probe");
    std::fs::write(&script_path, script).unwrap();
    // Break the program where it calls its first helper: a load through
    // r9, which nothing initialized (V010), on the map update's line.
    let mut obj = compile(script);
    let p = &mut obj.programs[0];
    let at = p
        .insns
        .iter()
        .position(|i| i.code == 0x85)
        .expect("a helper call");
    p.insns[at] = Insn::from_bytes([0x79, 0x90, 0, 0, 0, 0, 0, 0]);
    let obj_path = dir.join("broken.obj");
    std::fs::write(&obj_path, obj.to_bytes()).unwrap();
    let (s, o) = (script_path.to_str().unwrap(), obj_path.to_str().unwrap());

    let host = cli(
        &["run", "-w", "syscalls", "--object", o, s],
        Duration::from_secs(60),
    );
    assert_eq!(host.status.code(), Some(1), "{}", text(&host.stderr));
    let kernel = cli(
        &[
            "run",
            "-w",
            "syscalls",
            "--object",
            o,
            "--no-host-verify",
            s,
        ],
        Duration::from_secs(120),
    );
    let kstderr = text(&kernel.stderr);
    assert_eq!(kernel.status.code(), Some(1), "{kstderr}");
    assert!(
        kstderr.contains("starting workload syscalls"),
        "the kernel ran: {kstderr}"
    );
    let (h, k) = (diagnostic(&text(&host.stderr)), diagnostic(&kstderr));
    eprintln!("host:\n{h}\nkernel:\n{k}");
    assert!(h.starts_with("error[V010]"), "{h}");
    assert!(
        h.contains("@calls[args.nr] = count();"),
        "labelled on the script line: {h}"
    );
    assert_eq!(h, k);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `capscope boot --control`, stopped with SIGINT (which stops its QEMU)
/// when dropped.
struct Booted {
    child: Child,
    sock: PathBuf,
}

impl Booted {
    fn start(workload: &str) -> Booted {
        let sock = socket("broker");
        let child = Command::new(capscope())
            .args(["boot", "-w", workload, "--timeout", "300", "--control"])
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("capscope boot runs");
        let start = Instant::now();
        while !sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the broker never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Booted { child, sock }
    }

    fn path(&self) -> &str {
        self.sock.to_str().unwrap()
    }

    fn qemu_socket(&self) -> String {
        format!("capscope-qemu-{}.sock", self.child.id())
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            interrupt(self.child.id());
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
    }
}

fn attach(sock: &str, script: &str, secs: &str) -> Child {
    Command::new(capscope())
        .args([
            "attach",
            "--control",
            sock,
            "--duration",
            secs,
            "-e",
            script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("capscope attach runs")
}

/// The value of `@name: N` in a session's output.
fn value(stdout: &str, name: &str) -> u64 {
    let l = line(stdout, &format!("{name}: "));
    numbers(l).last().copied().unwrap_or_else(|| panic!("{l}"))
}

fn ids(ps: &str) -> Vec<u32> {
    ps.lines()
        .filter(|l| l.contains("attached") || l.contains("detached"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// A kernel that keeps running serves attach sessions one after another
/// and at the same time; `ps` lists them with run counts; `detach` and
/// Ctrl-C end a session, which still prints its END output and maps; a
/// session that dies is cleaned up by the broker; and stopping `boot`
/// stops QEMU.
#[test]
fn attach_detach_reattach_and_concurrent_sessions() {
    let booted = Booted::start("syscalls");
    let s = booted.path().to_string();
    let ticks = "interval:ms:10 { @ticks = count(); } END { printf(\"ticks done\\n\"); }";

    // One session, then another: attach, detach, re-attach.
    for round in 0..2 {
        let out = finish(&mut attach(&s, ticks, "1"), Duration::from_secs(60));
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "round {round}: {stdout}\n{}",
            text(&out.stderr)
        );
        assert!(stdout.starts_with("Attaching 2 probes...\n"), "{stdout}");
        assert!(
            stdout.contains("ticks done\n"),
            "END's output arrives before the detach completes: {stdout}"
        );
        // 100 periods a second under emulation: at least some ran.
        assert!(value(&stdout, "@ticks") >= 10, "{stdout}");
    }

    // Two at once, each with its own maps; ps sees both with run counts.
    let mut a = attach(&s, "irq:entry { @irqs = count(); }", "3");
    let mut b = attach(&s, ticks, "3");
    std::thread::sleep(Duration::from_millis(1500));
    let ps = cli(&["ps", "--control", &s], Duration::from_secs(30));
    let ps_out = text(&ps.stdout);
    assert!(ps.status.success(), "{ps_out}");
    assert_eq!(ids(&ps_out).len(), 2, "{ps_out}");
    assert!(ps_out.contains("probe irq:entry"), "{ps_out}");
    assert!(ps_out.contains("probe interval:ms:10"), "{ps_out}");
    let (oa, ob) = (
        finish(&mut a, Duration::from_secs(60)),
        finish(&mut b, Duration::from_secs(60)),
    );
    let (sa, sb) = (text(&oa.stdout), text(&ob.stdout));
    assert!(oa.status.success() && ob.status.success(), "{sa}\n{sb}");
    assert!(value(&sa, "@irqs") > 0 && !sa.contains("@ticks"), "{sa}");
    assert!(value(&sb, "@ticks") > 0 && !sb.contains("@irqs"), "{sb}");

    // `capscope detach ID` ends a session that would run for a minute; it
    // prints its final output as on Ctrl-C.
    let mut c = attach(&s, ticks, "60");
    let start = Instant::now();
    let id = loop {
        let ps = text(&cli(&["ps", "--control", &s], Duration::from_secs(30)).stdout);
        if let Some(&id) = ids(&ps).first() {
            break id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the session never attached: {ps}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let d = cli(
        &["detach", "--control", &s, &id.to_string()],
        Duration::from_secs(30),
    );
    assert!(d.status.success(), "{}", text(&d.stderr));
    let oc = finish(&mut c, Duration::from_secs(30));
    let sc = text(&oc.stdout);
    assert!(oc.status.success(), "{sc}");
    assert!(
        sc.contains("ticks done\n") && value(&sc, "@ticks") > 0,
        "{sc}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "detach did not end the session"
    );

    // Ctrl-C (SIGINT) ends a session as bpftrace's does: END runs, the
    // maps print, exit status 0.
    let mut i = attach(&s, ticks, "60");
    let start = Instant::now();
    while ids(&text(
        &cli(&["ps", "--control", &s], Duration::from_secs(30)).stdout,
    ))
    .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the session never attached"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    interrupt(i.id());
    let oi = finish(&mut i, Duration::from_secs(30));
    let si = text(&oi.stdout);
    assert!(oi.status.success(), "{si}\n{}", text(&oi.stderr));
    assert!(
        si.contains("ticks done\n") && value(&si, "@ticks") > 0,
        "{si}"
    );

    // A session killed outright: the broker detaches what it loaded.
    let mut k = attach(&s, ticks, "60");
    let start = Instant::now();
    while ids(&text(
        &cli(&["ps", "--control", &s], Duration::from_secs(30)).stdout,
    ))
    .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the session never attached"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    k.kill().unwrap();
    let _ = k.wait();
    let start = Instant::now();
    loop {
        let ps = text(&cli(&["ps", "--control", &s], Duration::from_secs(30)).stdout);
        if ps.contains("no probes loaded") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the dead session's probes stayed: {ps}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Stopping boot stops QEMU, with SIGTERM (what `kill` and `pkill`
    // send) as with Ctrl-C.
    let qemu = booted.qemu_socket();
    assert!(process_with(&qemu), "QEMU runs while boot does");
    signal(booted.child.id(), "-TERM");
    let start = Instant::now();
    while process_with(&qemu) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "QEMU outlived capscope boot"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(booted);
    assert!(!Path::new(&s).exists(), "boot removes its socket");
}
