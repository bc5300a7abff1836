//! Warnings: unused variables and maps, maps written but never looked at,
//! constant predicates.

use super::Checker;
use super::ir::CProbe;
use super::types::Type;
use crate::ast;
use crate::diag::{Code, Diagnostic};

/// Per-probe lints, run at the end of each probe in phase 2.
pub(super) fn probe_vars(c: &mut Checker, _probe: &ast::Probe) {
    let unused: Vec<(String, ast::Span)> = c
        .vars
        .iter()
        .filter(|v| !v.read && !v.loop_var && !v.name.starts_with("$_"))
        .map(|v| (v.name.clone(), v.first))
        .collect();
    for (name, span) in unused {
        let d = Diagnostic::new(
            Code::UnusedVariable,
            span,
            format!("`{name}` is never read"),
        )
        .label("assigned here")
        .help(format!(
            "remove it, or name it `$_{}` if that is intended",
            &name[1..]
        ));
        c.err(d);
    }
}

/// Whole-program lints, after phase 2.
pub(super) fn lint(c: &mut Checker, probes: &[CProbe]) {
    for p in probes {
        let Some(pred) = &p.predicate else { continue };
        let (Some(v), false) = (pred.constant(), pred.ty == Type::Error) else {
            continue;
        };
        let d = if v != 0 {
            Diagnostic::new(
                Code::PredicateAlwaysTrue,
                pred.span,
                "this predicate is always true",
            )
            .label("constant")
            .help("remove the predicate")
        } else {
            Diagnostic::new(
                Code::PredicateAlwaysFalse,
                pred.span,
                "this predicate is always false",
            )
            .label("constant")
            .note("the probe never does anything")
        };
        c.err(d);
    }
    let maps = c.maps.clone();
    for m in maps {
        let u = &m.use_;
        if !u.written {
            let d = Diagnostic::new(
                Code::MapNeverWritten,
                m.span,
                format!("`{}` is never assigned", m.name),
            )
            .label("used here")
            .note("reading it always gives 0, and it is always empty");
            c.err(d);
        } else if !u.read
            && !u.printed
            && !u.deleted
            && !u.cleared
            && m.value
                .as_ref()
                .is_some_and(|v| matches!(v.0, super::types::ValueKind::Plain(_)))
        {
            let d = Diagnostic::new(
                Code::MapNeverRead,
                m.span,
                format!("`{}` is written but never read, deleted or printed", m.name),
            )
            .label("written here")
            .note("it is printed once, when the probes detach")
            .help(format!(
                "add `END {{ print({}); }}` to make that explicit",
                m.name
            ));
            c.err(d);
        }
    }
}
