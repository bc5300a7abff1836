//! Every message about the user's input goes through here, rendered with
//! codespan: compiler diagnostics, assembler errors and verifier
//! rejections. One renderer means a rejection found by the kernel's
//! verifier reads exactly like one found on the host.

use std::io::IsTerminal;
use std::ops::Range;

use anyhow::anyhow;
use capscope_bytecode::asm::AsmError;
use capscope_verifier::Rejection;
use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream, WriteColor};

/// Diagnostics go to stderr, in color when it is a terminal.
pub fn stderr() -> StandardStream {
    let choice = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    StandardStream::stderr(choice)
}

/// Render one diagnostic on `source` (named `name` in the output).
pub fn emit(
    out: &mut dyn WriteColor,
    name: &str,
    source: &str,
    d: &Diagnostic<()>,
) -> anyhow::Result<()> {
    let file = SimpleFile::new(name, source);
    codespan_reporting::term::emit(out, &codespan_reporting::term::Config::default(), &file, d)
        .map_err(|e| anyhow!("rendering a diagnostic: {e}"))
}

/// A verifier rejection of the program for `probe`, labelled at `span` of
/// the source it is rendered on: the script line that produced the
/// instruction, or its line in a numbered disassembly.
pub fn rejection(r: &Rejection, probe: &str, span: Range<usize>) -> Diagnostic<()> {
    let mut notes = vec![match r.asm() {
        Some(asm) => format!("in `{probe}`, instruction {}: {asm}", r.insn),
        None => format!("in `{probe}`, instruction {}", r.insn),
    }];
    if !r.state.regs.is_empty() {
        notes.push(format!("state: {}", r.state));
    }
    Diagnostic::error()
        .with_code(r.code.to_string())
        .with_message(format!("the verifier rejects this probe: {}", r.kind))
        .with_labels(vec![
            Label::primary((), span)
                .with_message(format!("instruction {} comes from here", r.insn)),
        ])
        .with_notes(notes)
}

/// The byte range of a line-table span, if it lies on `source`'s character
/// boundaries (a span from another script, or a corrupted one, is not
/// trusted; the rejection is then labelled at the start of the file).
pub fn source_range(span: Option<capscope_bytecode::object::Span>, source: &str) -> Range<usize> {
    span.map(|s| s.start as usize..s.end as usize)
        .filter(|r| r.start <= r.end && r.end <= source.len())
        .filter(|r| source.is_char_boundary(r.start) && source.is_char_boundary(r.end))
        .unwrap_or(0..0)
}

/// An assembler error.
pub fn asm_error(e: &AsmError) -> Diagnostic<()> {
    Diagnostic::error()
        .with_code(e.kind.code())
        .with_message(e.kind.to_string())
        .with_labels(vec![Label::primary((), e.offset..e.offset + e.len)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use capscope_bytecode::object::Span;

    #[test]
    fn untrusted_spans_fall_back_to_the_start() {
        let src = "héllo";
        assert_eq!(source_range(Some(Span { start: 0, end: 1 }), src), 0..1);
        assert_eq!(
            source_range(Some(Span { start: 2, end: 3 }), src),
            0..0,
            "inside a character"
        );
        assert_eq!(
            source_range(Some(Span { start: 3, end: 99 }), src),
            0..0,
            "past the end"
        );
        assert_eq!(source_range(None, src), 0..0);
    }
}
