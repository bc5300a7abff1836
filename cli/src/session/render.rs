//! The kernel's load errors on the user's script.
//!
//! A rejection by the kernel's verifier carries the same facts as one
//! found on the host (stable code, instruction, message, register state,
//! source span), so it goes through the same codespan renderer
//! ([`crate::diagnostics`]) in the same words as
//! [`crate::diagnostics::rejection`]: a user cannot tell which verifier
//! spoke. The QEMU test `a_kernel_rejection_reads_like_the_hosts` holds the
//! two renderings to that, byte for byte.

use capscope_bytecode::Op;
use capscope_bytecode::object::ProbeObject;
use capscope_kernel_hooks::LoadError;
use codespan_reporting::diagnostic::{Diagnostic, Label};

use crate::diagnostics;

/// Render `e` (the kernel's answer to loading `obj`, compiled from
/// `source`, named `name`) on stderr.
pub fn emit_load_error(
    name: &str,
    source: &str,
    obj: &ProbeObject,
    e: &LoadError,
) -> anyhow::Result<()> {
    diagnostics::emit(
        &mut diagnostics::stderr(),
        name,
        source,
        &load_error(source, obj, e),
    )
}

/// The diagnostic for a load error.
pub fn load_error(source: &str, obj: &ProbeObject, e: &LoadError) -> Diagnostic<()> {
    let LoadError::Verify {
        program,
        name,
        code,
        insn,
        message,
        state,
        span,
    } = e
    else {
        return Diagnostic::error().with_message(format!("the kernel refused the probe: {e}"));
    };
    // The kernel words its message "`ASM`: WHAT" (kernel-hooks' engine);
    // the assembly is decoded again from the host's copy of the object.
    let asm = obj
        .programs
        .get(*program as usize)
        .and_then(|p| p.insns.get(*insn as usize..))
        .and_then(|slots| Op::decode(slots).ok())
        .map(|op| op.to_string());
    let what = asm
        .as_deref()
        .and_then(|a| message.strip_prefix(&format!("`{a}`: ")))
        .unwrap_or(message);
    let mut notes = vec![match &asm {
        Some(asm) => format!("in `{name}`, instruction {insn}: {asm}"),
        None => format!("in `{name}`, instruction {insn}"),
    }];
    if !state.is_empty() {
        notes.push(format!("state: {state}"));
    }
    Diagnostic::error()
        .with_code(code.clone())
        .with_message(format!("the verifier rejects this probe: {what}"))
        .with_labels(vec![
            Label::primary((), diagnostics::source_range(*span, source))
                .with_message(format!("instruction {insn} comes from here")),
        ])
        .with_notes(notes)
}
