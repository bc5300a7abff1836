//! capscope's probe language.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ast;
pub mod check;
pub mod diag;
pub mod lexer;
pub mod parse;
pub mod tokens;
