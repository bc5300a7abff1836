//! Host support (feature `std`): executable memory over `mmap`, and a safe
//! way for host tools (`capscope exec`, tests) to compile and run a program
//! against the reference model environment.
//!
//! [`HostProgram`] is the only safe path from bytecode to running native
//! code: it runs the verifier itself (so soundness does not rest on the
//! caller), links the model's maps and native helpers, and at run time
//! checks that the context has the attach point's size and that the
//! environment is the one it was linked against.

mod memory;
mod program;

pub use memory::HostCodeMemory;
pub use program::{HostError, HostProgram, ModelLinker, RunError, Runner};
