//! kernel-hooks: what a kernel embeds to become probe-able.
//!
//! A kernel implements [`Platform`] (time, current CPU and thread, fault-safe
//! user reads, stack walks, a cross-CPU barrier), calls [`init`] once, puts
//! [`fire`] at its hook sites and [`tick`] in its timer interrupt, and serves
//! the control channel with [`load`], [`detach`], [`list`] and the map
//! functions in [`control`]. `docs/hooks.md` walks through it.
//!
//! ```
//! use capscope_kernel_hooks::{AttachPoint, context::CapSlotCtx, fire};
//! // At the hook site: the closure runs only if a program is attached.
//! fire(AttachPoint::CapAlloc, || CapSlotCtx { slot: 3, ..Default::default() });
//! ```
//!
//! # Guarantees
//!
//! - **Cost.** With nothing attached at a point, `fire` is one load and one
//!   predictable branch, and the context is never built. With programs
//!   attached, it is one indirect call per program plus the program, with
//!   no atomic read-modify-write and no memory barrier on the way.
//! - **Atomic attach and detach.** An object's programs appear at all their
//!   points at once and disappear at once; a firing never sees a half-built
//!   program. Code and maps are freed only after a grace period
//!   ([`epoch`]), when no firing can still run them.
//! - **Bounded memory.** Maps are allocated at load, sized by the object's
//!   definitions, charged to the object against a global limit
//!   ([`set_memory_limit`]); nothing allocates on the fire path.
//! - **Nothing is lost silently.** A full map or ring buffer, a stack-id
//!   collision, or a nested event is counted and reported.
//! - **Hostile input.** Object bytes are decoded defensively and every
//!   failure of a load leaves nothing behind; bad addresses in helpers
//!   return `-EFAULT`.
//!
//! # Assumptions
//!
//! - The kernel is not preemptible while it fires a hook, and a CPU index
//!   names one execution context at a time ([`Platform::cpu`]).
//! - Programs given to the loader were verified (the kernel's engine runs
//!   the verifier itself), so they only pass helpers what the ABI's helper
//!   table allows.
//! - Control-path functions are not called from inside programs.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use capscope_bytecode::{abi, insn, object};

pub mod budget;
pub mod control;
mod engine;
pub mod epoch;
pub mod error;
mod fire;
pub mod helpers;
#[cfg(feature = "std")]
mod host;
mod loader;
mod lock;
pub mod maps;
mod mem;
pub mod platform;
pub mod registry;
pub mod tsc;

pub use capscope_bytecode::abi::AttachPoint;
pub use capscope_bytecode::abi::context::{self, Context};
#[cfg(feature = "std")]
pub use capscope_jit::host::HostCodeMemory;
pub use capscope_jit::{CodeMemory, CodeMemoryError, ExecutableCode};

pub use budget::{DEFAULT_MEMORY_LIMIT, memory_in_use, memory_limit, set_memory_limit};
pub use control::{
    Drained, MapRead, Status, clear_map, delete_key, drain_ringbuf, read_map, status, update_key,
    zero_map,
};
pub use engine::{JitEngine, JitOptions};
pub use error::{HostError, LoadError};
pub use fire::{InitError, MAX_CPUS, fire, init, is_armed, tick};
#[cfg(feature = "std")]
pub use host::HostPlatform;
pub use loader::{Engine, load, load_object};
pub use maps::{Map, MapEntry, Page};
pub use platform::{COMM_LEN, Fault, KernelFrame, Platform};
pub use registry::{
    Code, Detached, LoadedObject, MapInfo, ObjectId, ObjectInfo, ProgFn, ProgramInfo, detach, list,
    missed, object,
};

/// Time one program run in `2^shift` (default `2^6`: one in 64), to keep
/// the clock off the fire path; [`ProgramInfo::run_ns`] scales the sampled
/// time to all runs. `0` times every run. Values above 32 are clamped.
pub fn set_timing_sample(shift: u32) {
    fire::SAMPLE_MASK.store(
        (1u64 << shift.min(32)) - 1,
        core::sync::atomic::Ordering::Relaxed,
    );
}
