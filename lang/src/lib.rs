//! capscope's probe language: bpftrace-style scripts to eBPF probe objects.
//!
//! The front end is a pipeline of passes, each in its own module, and
//! [`compile_with`] runs them in order:
//!
//! 1. [`parse`]: text → [`ast::Program`] ([`lexer`] over the `logos`
//!    [`tokens`], the `lalrpop` grammar with error recovery);
//! 2. [`check`]: resolve probes, names and fields, type every expression,
//!    unify map and variable types, fold constants, add warnings;
//! 3. [`lower`]: the typed program → maps, formats and per-point programs
//!    with symbolic jumps;
//! 4. [`opt`]: jump threading, dead-code removal;
//! 5. encoding: labels → offsets, plus the line table, into a
//!    [`capscope_bytecode::object::ProbeObject`].
//!
//! **Guarantees.** No input makes the compiler panic or recurse without
//! bound (the parser caps nesting, see [`ast::MAX_DEPTH`]). Every problem is
//! a typed [`diag::Diagnostic`] with a stable code; nothing here prints.
//! The emitted code is meant to pass the verifier as generated: every key
//! and record byte is written before it is passed to a helper, every lookup
//! is null-checked, every map-value access is at a constant offset inside
//! the value, loops are unrolled, and no pointer is ever stored.
//!
//! **Assumptions.** The probe ABI of `capscope_bytecode::abi` (attach
//! points, field offsets, helper numbers) is the one the kernel implements.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ast;
pub mod check;
pub mod diag;
pub mod lexer;
pub mod lower;
pub mod opt;
pub mod parse;
pub mod tokens;

use std::fmt;

use capscope_bytecode::object::ProbeObject;

pub use diag::{Code, Diagnostic, Severity, emit, render};

/// Compiler options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Run [`opt`] (on by default; off shows lowering's raw output).
    pub optimize: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { optimize: true }
    }
}

/// A compiled script.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The syntax tree (for `--emit ast`).
    pub ast: ast::Program,
    /// The probe object: maps with display information, programs with line
    /// tables, printf formats.
    pub object: ProbeObject,
    /// Warnings (the script compiled).
    pub warnings: Vec<Diagnostic>,
}

/// Why a script did not compile: its errors, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The errors (at least one).
    pub diagnostics: Vec<Diagnostic>,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, CompileError>;

impl CompileError {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Render with codespan, without colors.
    pub fn render(&self, name: &str, source: &str) -> String {
        render(&self.diagnostics, name, source)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        match self.errors().next() {
            Some(d) => write!(
                f,
                "{n} error(s); first: [{}] {}",
                d.code.as_str(),
                d.message
            ),
            None => write!(f, "no errors"),
        }
    }
}

impl std::error::Error for CompileError {}

/// Compile a script with the default options.
pub fn compile(source: &str) -> Result<Compiled> {
    compile_with(source, &Options::default())
}

/// The pipeline: parse → check → lower → optimize → encode.
pub fn compile_with(source: &str, options: &Options) -> Result<Compiled> {
    // A rejected script shows its errors only: warnings about a script
    // that does not compile are noise next to them.
    let fail = |mut diagnostics: Vec<Diagnostic>| {
        diagnostics.retain(Diagnostic::is_error);
        diagnostics.sort_by_key(|d| (d.primary.span.start, d.code.as_str()));
        CompileError { diagnostics }
    };
    // 1. Parse (recovering from syntax errors).
    let (ast, mut diags) = parse::parse(source);
    let Some(ast) = ast else {
        return Err(fail(diags));
    };
    let syntax_errors = diags.iter().any(Diagnostic::is_error);
    // 2. Check, even after syntax errors, so one run reports everything;
    // warnings about a half-parsed script would only mislead, though.
    let (checked, check_diags) = check::check(&ast);
    diags.extend(
        check_diags
            .into_iter()
            .filter(|d| !syntax_errors || d.is_error()),
    );
    let checked = match checked {
        Some(c) if !syntax_errors => c,
        _ => return Err(fail(diags)),
    };
    // 3. Lower.
    let mut lowered = match lower::lower(&checked) {
        Ok(l) => l,
        Err(e) => {
            diags.extend(e);
            return Err(fail(diags));
        }
    };
    // 4. Optimize.
    if options.optimize {
        opt::optimize(&mut lowered);
    }
    // 5. Encode.
    let object = match lowered.assemble() {
        Ok(o) => o,
        Err(e) => {
            diags.extend(e);
            return Err(fail(diags));
        }
    };
    Ok(Compiled {
        ast,
        object,
        warnings: diags,
    })
}
