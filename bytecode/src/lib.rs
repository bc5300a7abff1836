//! capscope's bytecode: the contract every other stage is built on.
//!
//! - [`insn`]: the RFC 9669 eBPF instruction encoding, and [`insn::Op`], the
//!   one decoder that says which bit patterns are valid.
//! - [`asm`]: the text assembler and disassembler (llvm-objdump syntax),
//!   which round-trip every valid instruction byte for byte.
//! - [`abi`]: attach points, their context structs and readable fields, the
//!   helper table, and named constants.
//! - [`object`]: the probe object (maps, programs, line and format tables)
//!   and its defensive decoder.
//! - [`interp`]: the reference interpreter, the executable definition of
//!   the semantics, with a memory-checked mode safe on any input.
//! - [`model`]: the reference environment: every map kind and helper, with
//!   Linux semantics, shared by the interpreter and (through `extern "C"`
//!   shims) by JIT-compiled code.
//!
//! The crate is `no_std` + `alloc` so the kernel links the same definitions
//! the host tools use. It guarantees that nothing in it panics on input
//! bytes: decoders return errors.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]
// Only the interpreter's memory access and the reference helpers may use
// `unsafe`; each such module or item opts in with `#[allow(unsafe_code)]`.
#![deny(unsafe_code)]

extern crate alloc;

pub mod abi;
pub mod asm;
pub mod insn;
pub mod interp;
pub mod model;
pub mod object;

pub use insn::{HelperId, Insn, InsnIdx, MapIdx, Op, Reg};
