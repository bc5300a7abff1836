//! The Cranelift target: x86-64, SysV, no PIC, no unwind tables, and no
//! e-graph optimization pass (`opt_level=none`).
//!
//! Why no e-graph: the translation already emits what that pass would leave
//! (one IR instruction per eBPF instruction, frame addresses as `lea`s off
//! the stack pointer, constants and identities folded from the block facts
//! in `translate::track`), so on probe programs it finds almost nothing to
//! improve, and it costs about a third of the compile time. Worse, its
//! global value numbering merges equal constants and frame addresses across
//! blocks into one value, and a value that lives across a helper call takes
//! a callee-saved register, which Cranelift saves in the prologue and
//! restores in every epilogue: every path, the early exits of a predicate
//! included, then pays for a register only the miss path needed. Measured
//! on the programs of `probes/` (`examples/probe_sizes`): 2,647 bytes of code
//! and 0.69 ms of compiling with `none`, 2,913 bytes and 1.06 ms with
//! `speed`.

use alloc::format;

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};

use crate::Options;
use crate::error::{JitError, Result};

/// Optional x86-64 extensions the generated code may use.
///
/// The default is the x86-64 baseline (SSE2), which every machine the kernel
/// runs on has, including QEMU's default TCG CPU. `X86Features::host`
/// (feature `std`) detects what the host CPU has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X86Features {
    /// `popcnt`.
    pub popcnt: bool,
    /// `andn`, `blsr`, `tzcnt`.
    pub bmi1: bool,
    /// `shlx`/`shrx`/`sarx`: variable shifts without tying up `cl`.
    pub bmi2: bool,
    /// `lzcnt`.
    pub lzcnt: bool,
}

impl X86Features {
    /// The extensions this host CPU supports.
    #[cfg(feature = "std")]
    pub fn host() -> X86Features {
        X86Features {
            popcnt: std::arch::is_x86_feature_detected!("popcnt"),
            bmi1: std::arch::is_x86_feature_detected!("bmi1"),
            bmi2: std::arch::is_x86_feature_detected!("bmi2"),
            lzcnt: std::arch::is_x86_feature_detected!("lzcnt"),
        }
    }
}

pub(crate) fn build(opts: &Options) -> Result<OwnedTargetIsa> {
    let err = |e: &dyn core::fmt::Display| JitError::Codegen(format!("{e}"));
    let mut shared = settings::builder();
    let flags: [(&str, &str); 6] = [
        // See the module docs.
        ("opt_level", "none"),
        // Absolute addresses for helpers and maps are plain constants, so
        // the code is position-independent without PIC's GOT.
        ("is_pic", "false"),
        // Nobody unwinds through probe code: helpers do not panic across it.
        ("unwind_info", "false"),
        // The frame is 512 bytes (plus spills), far below a guard page, and
        // a probestack call would be a relocation.
        ("enable_probestack", "false"),
        // The kernel walks stacks by frame pointer (get_stackid).
        ("preserve_frame_pointers", "true"),
        (
            "enable_verifier",
            if opts.verify_clif { "true" } else { "false" },
        ),
    ];
    for (k, v) in flags {
        shared.set(k, v).map_err(|e| err(&e))?;
    }
    let mut builder = isa::lookup_by_name("x86_64-unknown-none").map_err(|e| err(&e))?;
    let x = opts.x86;
    for (on, name) in [
        (x.popcnt, "has_popcnt"),
        (x.bmi1, "has_bmi1"),
        (x.bmi2, "has_bmi2"),
        (x.lzcnt, "has_lzcnt"),
    ] {
        if on {
            builder.enable(name).map_err(|e| err(&e))?;
        }
    }
    builder
        .finish(settings::Flags::new(shared))
        .map_err(|e| err(&e))
}
