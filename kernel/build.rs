//! Links the kernel (linker script, no C runtime) and builds the ring-3
//! workloads it embeds.
//!
//! The workloads are a separate cargo workspace (`user/`) with user-mode
//! flags, built here by a nested cargo into `target/user`, so a plain
//! `cargo build` in `kernel/` works on a clean clone. The nested build gets
//! its own rustflags explicitly: nothing of the kernel's (code model,
//! features) leaks into it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workloads the kernel embeds; `src/workloads.rs` lists the same.
const WORKLOADS: &[&str] = &[
    "leaky",
    "overmap",
    "protocol",
    "pingpong",
    "pagefaults",
    "syscalls",
    "timer",
    "badargs",
];

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    link_kernel(&dir);
    build_workloads(&dir);
}

fn link_kernel(dir: &Path) {
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join("linker.ld").display()
    );
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-z,max-page-size=4096",
        "-Wl,-z,norelro",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rerun-if-changed=linker.ld");
}

fn build_workloads(dir: &Path) {
    let user = dir.join("user");
    let target_dir = dir.join("target").join("user");
    for watched in [
        "user/rt",
        "user/workloads",
        "user/Cargo.toml",
        "user/Cargo.lock",
        "core/src",
    ] {
        println!("cargo:rerun-if-changed={}", dir.join(watched).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("../bytecode/src/abi").display()
    );

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&user)
        .args(["build", "--release", "--target", "x86_64-unknown-linux-gnu"])
        .arg("--target-dir")
        .arg(&target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_LTO",
    ] {
        cmd.env_remove(var);
    }
    // User code is ordinary static, non-PIE code with frame pointers (so
    // probes can walk user stacks); the link address comes from user.ld.
    let flags = [
        "-C",
        "relocation-model=static",
        "-C",
        "force-frame-pointers=yes",
    ];
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    let status = cmd
        .status()
        .expect("failed to run cargo for the user workloads");
    assert!(
        status.success(),
        "building the user workloads (kernel/user) failed"
    );

    let bin_dir = target_dir.join("x86_64-unknown-linux-gnu").join("release");
    for w in WORKLOADS {
        let path = bin_dir.join(w);
        assert!(
            path.exists(),
            "workload {w} was not built at {}",
            path.display()
        );
    }
    println!("cargo:rustc-env=CAPSCOPE_USER_BIN={}", bin_dir.display());
}
