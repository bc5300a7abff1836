//! capscope's verifier (being built; see issue 4). Today it exports only the
//! `Facts` contract the JIT consumes.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod facts;

pub use facts::{Branch, Facts, InsnFacts};
