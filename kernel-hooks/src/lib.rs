//! kernel-hooks: what a kernel embeds to become probe-able.
//!
//! This file currently holds only the fire-path contract the reference
//! kernel calls (issue 7 builds the registry, maps, helpers and loader
//! behind it):
//!
//! ```ignore
//! capscope_kernel_hooks::fire(AttachPoint::CapAlloc, || CapSlotCtx { .. });
//! ```
//!
//! With nothing attached at `point`, `fire` costs one load and one
//! predictable branch, and the context is never built: the closure only runs
//! when a program is attached.
#![no_std]

use core::sync::atomic::{AtomicBool, Ordering};

pub use capscope_bytecode::abi::AttachPoint;
pub use capscope_bytecode::abi::context::{self, Context};

/// One flag per attach point: true while at least one program is attached.
static ARMED: [AtomicBool; AttachPoint::COUNT] =
    [const { AtomicBool::new(false) }; AttachPoint::COUNT];

/// Report an event. `make` builds the context only if something listens.
#[inline(always)]
pub fn fire<C: Context>(point: AttachPoint, make: impl FnOnce() -> C) {
    if ARMED[point.index()].load(Ordering::Relaxed) {
        fire_slow(point, make().as_bytes());
    }
}

/// True while a program is attached at `point`.
#[inline(always)]
pub fn is_armed(point: AttachPoint) -> bool {
    ARMED[point.index()].load(Ordering::Relaxed)
}

#[cold]
#[inline(never)]
fn fire_slow(_point: AttachPoint, _ctx: &[u8]) {
    // Runs the programs attached at `point`; nothing can be attached until
    // the registry and loader of issue 7 exist, so `ARMED` is never set.
}
