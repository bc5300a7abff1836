//! Shared helpers of capscope's cross-stage tests.
//!
//! The QEMU tests build the kernel once per test binary ([`kernel`]) and
//! boot one workload per test ([`boot`]) with a timeout, so a hang is a
//! failure, never a stuck CI run. Each workload prints its own ground
//! truth; the kernel independently prints what teardown freed and how
//! faults were handled; the tests check one against the other.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub use capscope_kernel_runner::{self as runner, Boot, Flavor, Outcome, Run};

/// The kernel image of `flavor`, built at most once per test process.
pub fn kernel(flavor: Flavor) -> PathBuf {
    static HOOKS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static NO_HOOKS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let cell = match flavor {
        Flavor::Hooks => &HOOKS,
        Flavor::NoHooks => &NO_HOOKS,
    };
    cell.get_or_init(|| runner::build_kernel(flavor).map_err(|e| e.to_string()))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The workspace's `capscope` binary, built once per test process in the
/// calling test's profile, after the hooks kernel (so that no test's time
/// limit includes a kernel build; `capscope run` builds it too, which is
/// then a no-op).
pub fn capscope() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        kernel(Flavor::Hooks);
        // target/<profile>/deps/<test>-… → target/<profile>/capscope
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let profile_dir = exe
            .parent()
            .and_then(std::path::Path::parent)
            .ok_or("no target directory")?
            .to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(runner::repo_root()).args([
            "build",
            "-p",
            "capscope-cli",
            "--bin",
            "capscope",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("building capscope failed: {status}"));
        }
        Ok(profile_dir.join("capscope"))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// QEMU, installed if missing and possible (CI runs as root).
pub fn qemu() -> PathBuf {
    static QEMU: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    QEMU.get_or_init(|| runner::ensure_qemu(true).map_err(|e| e.to_string()))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Boot `workload` on the hooks kernel with a 30 s timeout.
pub fn boot(workload: &str) -> Run {
    boot_with(
        Flavor::Hooks,
        Boot {
            timeout: Duration::from_secs(30),
            ..Boot::new(workload)
        },
    )
}

/// Boot with explicit options.
pub fn boot_with(flavor: Flavor, b: Boot) -> Run {
    let k = kernel(flavor);
    let run = runner::boot_captured(&qemu(), &k, &b).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "--- {} ({:?}, {:.2} s)\n{}",
        b.workload,
        run.outcome,
        run.elapsed.as_secs_f64(),
        run.console
    );
    run
}

/// The line of `console` that starts with `prefix`.
pub fn line<'a>(console: &'a str, prefix: &str) -> &'a str {
    console
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{console}"))
}

/// The numbers in a line, in order.
pub fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("digits"))
        .collect()
}

/// The kernel's teardown report for task `task`: (status, capabilities
/// freed, faults resolved, reflected, fatal).
pub fn teardown(console: &str, task: u32) -> [u64; 5] {
    let l = line(console, &format!("capscope: task {task} exited"));
    let n = numbers(l);
    // "task T exited with status S: teardown freed F capabilities; faults: R resolved, X reflected, Y fatal"
    [n[1], n[2], n[3], n[4], n[5]]
}

/// Free frames when the workload started and when it finished (after its
/// teardown): equal unless the kernel leaked memory.
pub fn frames(console: &str) -> (u64, u64) {
    let start = numbers(line(console, "capscope: frames "))[0];
    let end = numbers(line(console, "capscope: workload finished"))[1];
    (start, end)
}

/// Capabilities the kernel gives every workload's main task (task, factory,
/// main thread); teardown frees them along with any leaked ones.
pub const BOOTSTRAP_CAPS: u64 = 3;
