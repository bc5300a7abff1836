//! The reference kernel's plain logic, testable on the host.
//!
//! Everything here is ordinary, `no_std` + `alloc` Rust with no hardware
//! access, so `cargo test` runs it on the host (the kernel links the same
//! code). It holds:
//!
//! - [`ids`] and [`error`]: the newtypes (task, slot, object, rights, kind)
//!   and the typed error every syscall returns, mapped one-to-one onto the
//!   probe ABI's `E*` codes.
//! - [`cspace`]: capability spaces and the mapping database, with seL4's
//!   decode/invoke split. `decode_*` checks slot indices, rights and flags
//!   and has no side effects; `invoke_*` cannot fail and reports every slot
//!   that becomes occupied or empty to a [`cspace::CapEvents`] sink, which is
//!   where the kernel fires `cap:*` hooks and drops objects whose last
//!   capability went away.
//! - [`clock`]: cycle counter to nanoseconds by multiply and shift.
//! - [`chain`]: the user-level fault-handler chain (Akaros-style
//!   `register_fault_handler(handler, insert_tail)`).
//! - [`extable`]: sorted, binary-searched exception tables (kernel and user).
//! - [`uabi`]: the kernel/user binary interface beyond the probe ABI: the
//!   fault frame a user handler receives, `cap_info`'s record, bootstrap
//!   slots, the user address-space layout.
//!
//! Guarantees: no function here panics on caller-supplied values (slot
//! indices, rights, flags); invalid input yields an [`error::Error`].
//! Assumption: the caller serialises access (the kernel is single-CPU and
//! non-preemptible, so `&mut self` is enough).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod chain;
pub mod clock;
pub mod cspace;
pub mod error;
pub mod extable;
pub mod ids;
pub mod uabi;

pub use error::{Error, KResult};
pub use ids::{Cap, Kind, ObjId, Rights, Slot, SlotRef, TaskId};
