//! capscope's verifier (being built; see issue 4).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod arith;
pub mod cmp;
pub mod facts;
pub mod range;
pub mod stack;
pub mod state;
pub mod tnum;
pub mod value;

pub use facts::{Branch, Facts, InsnFacts};
