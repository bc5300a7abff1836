//! Build capscope's reference kernel and boot it under QEMU.
//!
//! One place knows how: `capscope boot`, the QEMU tests (and later
//! `capscope run`) all go through [`build_kernel`] and [`Boot`].
//!
//! - The kernel is built by running cargo in `kernel/` (its own workspace
//!   with bare-metal flags), with a clean environment so flags of an outer
//!   cargo (for example `cargo test`) cannot leak in. The hooks-off variant
//!   has its own target directory, so switching never rebuilds the other.
//! - QEMU runs with TCG unless KVM is asked for, `-display none`, the
//!   console on stdio, `isa-debug-exit` for the status, and always under a
//!   timeout. The kernel writes the workload's exit status `s` to the exit
//!   port and QEMU exits with `2s + 1`; a kernel failure is `s = 127`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Status the kernel reports when it failed (fault, panic, deadlock).
pub const KERNEL_FAILURE: u8 = 127;

/// What went wrong.
#[derive(Debug)]
pub enum Error {
    /// cargo could not be run or failed to build the kernel.
    Build(String),
    /// `qemu-system-x86_64` is not installed (the message says how to get it).
    QemuMissing(String),
    /// Running QEMU failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Build(m) => write!(f, "building the kernel failed: {m}"),
            Error::QemuMissing(m) => f.write_str(m),
            Error::Io(e) => write!(f, "running QEMU failed: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// Which kernel build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Hook call sites compiled in (the default).
    Hooks,
    /// Hook call sites compiled out (the overhead baseline).
    NoHooks,
}

/// The repository root (this crate lives in `kernel/runner`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Build the kernel (cargo decides whether anything changed) and return
/// the path of its ELF image. Cargo's own output goes to stderr.
pub fn build_kernel(flavor: Flavor) -> Result<PathBuf> {
    let kernel_dir = repo_root().join("kernel");
    let target_dir = match flavor {
        Flavor::Hooks => kernel_dir.join("target"),
        Flavor::NoHooks => kernel_dir.join("target").join("nohooks"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&kernel_dir)
        .args(["build", "--release"])
        .arg("--target-dir")
        .arg(&target_dir);
    if flavor == Flavor::NoHooks {
        cmd.arg("--no-default-features");
    }
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| Error::Build(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "cargo build in {} exited with {status}",
            kernel_dir.display()
        )));
    }
    let elf = target_dir.join("x86_64-unknown-linux-gnu/release/capscope-kernel");
    if !elf.exists() {
        return Err(Error::Build(format!(
            "no kernel image at {}",
            elf.display()
        )));
    }
    Ok(elf)
}

/// Find `qemu-system-x86_64` on the PATH.
pub fn find_qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
}

/// Find QEMU; if it is missing and `install` is set and we run as root with
/// apt-get available, install Debian's `qemu-system-x86`. Otherwise the
/// error says how to install it.
pub fn ensure_qemu(install: bool) -> Result<PathBuf> {
    if let Some(q) = find_qemu() {
        return Ok(q);
    }
    let how = "qemu-system-x86_64 is not installed. On Debian or Ubuntu: \
               `sudo apt-get update && sudo apt-get install -y qemu-system-x86`";
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !(install && is_root && has_apt) {
        return Err(Error::QemuMissing(how.into()));
    }
    eprintln!("capscope: installing qemu-system-x86 with apt-get");
    let ok = Command::new("apt-get")
        .arg("update")
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("apt-get")
            .args(["install", "-y", "qemu-system-x86"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
    match find_qemu() {
        Some(q) if ok => Ok(q),
        _ => Err(Error::QemuMissing(format!("installing QEMU failed. {how}"))),
    }
}

/// How to boot.
#[derive(Clone, Debug)]
pub struct Boot {
    /// The workload (`workload=` on the kernel command line).
    pub workload: String,
    /// Use KVM instead of TCG (only where it works).
    pub kvm: bool,
    /// `-icount shift=0`: guest time follows the instruction count, so the
    /// TSC counts instructions and measurements repeat exactly.
    pub icount: bool,
    /// Serve the control channel (COM2) on this Unix socket.
    pub control: Option<PathBuf>,
    /// With `control`: keep the kernel running and serving after the
    /// workload (`control=serve`) instead of ending the run after the
    /// finished rendezvous (`control`).
    pub serve: bool,
    /// More words for the kernel command line.
    pub cmdline_extra: Vec<String>,
    /// More QEMU arguments, appended last.
    pub qemu_args: Vec<String>,
    /// Kill QEMU after this long.
    pub timeout: Duration,
}

impl Boot {
    /// Boot `workload` with the defaults (TCG, 60 s timeout).
    pub fn new(workload: &str) -> Boot {
        Boot {
            workload: workload.into(),
            kvm: false,
            icount: false,
            control: None,
            serve: false,
            cmdline_extra: Vec::new(),
            qemu_args: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The QEMU command for `kernel`.
    pub fn command(&self, qemu: &Path, kernel: &Path) -> Command {
        let mut cmdline = format!("workload={}", self.workload);
        match (&self.control, self.serve) {
            (Some(_), false) => cmdline.push_str(" control"),
            (Some(_), true) => cmdline.push_str(" control=serve"),
            (None, _) => {}
        }
        for w in &self.cmdline_extra {
            cmdline.push(' ');
            cmdline.push_str(w);
        }
        let mut c = Command::new(qemu);
        c.arg("-kernel").arg(kernel).args(["-append", &cmdline]);
        c.args([
            "-m",
            "256M",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
        ]);
        c.args([
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]);
        if let Some(sock) = &self.control {
            c.arg("-chardev").arg(format!(
                "socket,id=ctl,path={},server=on,wait=off",
                sock.display()
            ));
            c.args(["-device", "isa-serial,chardev=ctl"]);
        }
        if self.kvm {
            c.args(["-enable-kvm", "-cpu", "host"]);
        } else {
            c.args(["-accel", "tcg"]);
        }
        if self.icount {
            c.args(["-icount", "shift=0"]);
        }
        c.args(&self.qemu_args);
        c
    }
}

/// How a boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The workload exited with this status.
    Exited(u8),
    /// The kernel reported a failure (fault, panic or deadlock).
    KernelFailure,
    /// QEMU ended some other way (its exit status), e.g. it was killed.
    Qemu(Option<i32>),
    /// The timeout expired and QEMU was killed.
    TimedOut,
}

impl Outcome {
    /// Decode QEMU's exit status.
    pub fn from_status(status: ExitStatus) -> Outcome {
        match status.code() {
            Some(c) if c & 1 == 1 && (1..=255).contains(&c) => match (c >> 1) as u8 {
                KERNEL_FAILURE => Outcome::KernelFailure,
                s => Outcome::Exited(s),
            },
            other => Outcome::Qemu(other),
        }
    }

    /// The exit code `capscope boot` passes on.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Exited(s) => s,
            Outcome::KernelFailure => KERNEL_FAILURE,
            Outcome::Qemu(_) | Outcome::TimedOut => 125,
        }
    }
}

/// A finished boot with its console output.
#[derive(Clone, Debug)]
pub struct Run {
    /// Everything the kernel printed on COM1.
    pub console: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall-clock time of the QEMU run.
    pub elapsed: Duration,
}

/// A running QEMU. Dropping it kills QEMU, so a failing test (which
/// unwinds) never leaves a guest behind.
pub struct Running {
    child: std::process::Child,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
    start: Instant,
}

/// Start `cmd` (a QEMU command), capturing stdout; each chunk of output is
/// also passed to `echo` as it arrives.
pub fn spawn(mut cmd: Command, mut echo: impl FnMut(&[u8]) + Send + 'static) -> Result<Running> {
    let start = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn()?;
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            echo(&buf[..n]);
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    Ok(Running {
        child,
        reader: Some(reader),
        start,
    })
}

impl Running {
    /// QEMU's outcome if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<Outcome>> {
        Ok(self.child.try_wait()?.map(Outcome::from_status))
    }

    /// Wait for QEMU to exit, killing it once `timeout` has passed since
    /// it started.
    pub fn wait(mut self, timeout: Duration) -> Result<Run> {
        let outcome = loop {
            if let Some(status) = self.child.try_wait()? {
                break Outcome::from_status(status);
            }
            if self.start.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let bytes = self
            .reader
            .take()
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default();
        Ok(Run {
            console: String::from_utf8_lossy(&bytes).replace('\r', ""),
            outcome,
            elapsed: self.start.elapsed(),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run `cmd` (a QEMU command) to completion or `timeout`, capturing stdout;
/// each chunk of output is also passed to `echo` as it arrives.
pub fn run(
    cmd: Command,
    timeout: Duration,
    echo: impl FnMut(&[u8]) + Send + 'static,
) -> Result<Run> {
    spawn(cmd, echo)?.wait(timeout)
}

/// Boot `kernel` as `boot` says and capture the console.
pub fn boot_captured(qemu: &Path, kernel: &Path, boot: &Boot) -> Result<Run> {
    run(boot.command(qemu, kernel), boot.timeout, |_| {})
}

/// Boot and stream the console to stdout while capturing it.
pub fn boot_streamed(qemu: &Path, kernel: &Path, boot: &Boot) -> Result<Run> {
    run(boot.command(qemu, kernel), boot.timeout, |b| {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(b);
        let _ = o.flush();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn exit_codes_decode() {
        assert_eq!(Outcome::from_status(exit(1)), Outcome::Exited(0));
        assert_eq!(Outcome::from_status(exit(3)), Outcome::Exited(1));
        assert_eq!(Outcome::from_status(exit(255)), Outcome::KernelFailure);
        assert_eq!(Outcome::from_status(exit(0)), Outcome::Qemu(Some(0)));
        assert_eq!(Outcome::from_status(exit(2)), Outcome::Qemu(Some(2)));
        assert_eq!(Outcome::KernelFailure.exit_code(), 127);
    }

    #[test]
    fn command_line_has_the_essentials() {
        let mut b = Boot::new("leaky");
        b.icount = true;
        b.control = Some("/tmp/ctl.sock".into());
        let c = b.command(Path::new("qemu"), Path::new("k"));
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("-append workload=leaky control"));
        assert!(joined.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(joined.contains("-icount shift=0"));
        assert!(joined.contains("-accel tcg"));
        assert!(joined.contains("socket,id=ctl,path=/tmp/ctl.sock,server=on,wait=off"));
        b.serve = true;
        let c = b.command(Path::new("qemu"), Path::new("k"));
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.join(" ")
                .contains("-append workload=leaky control=serve")
        );
    }
}
