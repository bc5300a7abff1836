//! Shared test scaffolding: the host platform, a test lock (the crate's
//! registry is global, so tests in one binary take turns), object builders
//! and a native "engine" that stands in for verify + JIT; eBPF programs and
//! the JIT pipeline in [`programs`].
#![allow(dead_code)]

pub mod programs;

pub use programs::*;

use std::sync::{Mutex, MutexGuard};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::Insn;
use capscope_bytecode::object::{AttachSpec, ProbeObject, ProgramDef};
use capscope_kernel_hooks::{Code, HostPlatform, LoadError, ProgFn};

static LOCK: Mutex<()> = Mutex::new(());

/// Install the host platform (4 CPUs) and take the test lock.
pub fn setup() -> (MutexGuard<'static, ()>, &'static HostPlatform) {
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let p = HostPlatform::install(4);
    (g, p)
}

/// A program at `point`; its bytecode is a placeholder (`r0 = 0; exit`)
/// that native engines ignore.
pub fn prog(name: &str, point: AttachPoint) -> ProgramDef {
    ProgramDef {
        name: name.into(),
        attach: AttachSpec {
            point,
            period_ns: 0,
        },
        insns: vec![
            Insn {
                code: 0xb7,
                ..Default::default()
            },
            Insn {
                code: 0x95,
                ..Default::default()
            },
        ],
        lines: vec![],
    }
}

pub fn interval(name: &str, period_ns: u64) -> ProgramDef {
    let mut p = prog(name, AttachPoint::Interval);
    p.attach.period_ns = period_ns;
    p
}

/// Code for a native test program. Its owner is `owner`.
pub fn native_with(f: ProgFn, owner: Box<dyn Send + Sync>) -> Code {
    // SAFETY: test programs are safe Rust behind an extern "C" signature;
    // they use only the helpers' documented contracts.
    unsafe { Code::new(f, owner, 64) }
}

pub fn native(f: ProgFn) -> Code {
    native_with(f, Box::new(()))
}

/// An engine that gives every program the native function `pick` chooses
/// (by program index), after storing the map handles with `handles`.
pub fn engine(
    mut pick: impl FnMut(usize, &[u64]) -> ProgFn,
) -> impl FnMut(&ProbeObject, usize, &[u64]) -> Result<Code, LoadError> {
    move |_, i, h| Ok(native(pick(i, h)))
}

pub extern "C" fn nop(_: *const u8, _cpu: u64) -> u64 {
    0
}
