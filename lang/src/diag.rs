//! Diagnostics: typed values with stable codes, rendered only at the edge.
//!
//! Every pass reports problems as [`Diagnostic`] values: a [`Code`] (stable,
//! `E0xx` for errors and `W0xx` for warnings, listed in `docs/language.md`),
//! a message, a primary [`Label`] on the offending span, secondary labels on
//! related spans (the first use of a map whose type now conflicts), and
//! `help:` lines where the fix is obvious. [`render`] turns them into
//! `codespan-reporting` output; the CLI calls it, nothing in the compiler
//! prints.

use std::io;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::{NoColor, WriteColor};

use crate::ast::Span;

/// The terminal-color types [`emit`] writes to, so callers need not depend
/// on codespan-reporting themselves.
pub use codespan_reporting::term::termcolor;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program still compiles.
    Warning,
    /// The program is rejected.
    Error,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $summary:literal;)*) => {
        /// A stable diagnostic code. Never renumbered; retired codes are not reused.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed: `E020`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// Error or warning.
            pub const fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// One line saying what the code means (the docs list these).
            pub const fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    UnexpectedChar = "E001", Error, "a character that starts no token";
    UnterminatedString = "E002", Error, "a string literal without its closing quote on the same line";
    UnterminatedComment = "E003", Error, "a `/*` comment without `*/`";
    BadEscape = "E004", Error, "an unknown escape in a string (known: \\n \\t \\r \\0 \\\\ \\\")";
    IntOverflow = "E005", Error, "an integer literal that does not fit in 64 bits";
    UnexpectedToken = "E010", Error, "a token the grammar does not allow here";
    UnexpectedEof = "E011", Error, "the script ends in the middle of a construct";
    TooDeep = "E012", Error, "expressions or blocks nested too deeply";
    ScriptTooLarge = "E013", Error, "the script is larger than the compiler accepts (1 MiB)";
    UnknownProbe = "E020", Error, "no attach point has this name";
    WildcardMatchesNothing = "E021", Error, "a wildcard probe name that matches no attach point";
    BadFilter = "E022", Error, "a probe filter suffix that is not allowed or names nothing";
    BadInterval = "E023", Error, "an `interval` probe without a valid unit and period";
    UnknownIdent = "E030", Error, "an identifier that is no builtin and no named constant";
    UnknownField = "E031", Error, "`args.NAME` where the attach point has no such field";
    FieldNotInAllProbes = "E032", Error, "a field that some probes of a list do not have, or have with another type";
    BuiltinUnavailable = "E033", Error, "a builtin this attach point does not provide (`retval` outside `syscall:exit`)";
    UnknownFunction = "E034", Error, "a call to a function the language does not have";
    WrongArgCount = "E035", Error, "a call with the wrong number of arguments";
    VarBeforeAssign = "E036", Error, "a `$variable` read before any assignment to it";
    LoopVarAssigned = "E037", Error, "an assignment to a `for` loop variable";
    TypeMismatch = "E040", Error, "an operand of the wrong type";
    MapKeyMismatch = "E041", Error, "a map used with two different key types";
    MapValueMismatch = "E042", Error, "a map assigned two different value types (or aggregations)";
    VarTypeMismatch = "E043", Error, "a `$variable` assigned two different types";
    AggregationMisuse = "E044", Error, "an aggregation function outside `@map[...] = agg(...)`";
    AggregationRead = "E045", Error, "an aggregation map read as a value (its value is per CPU)";
    NotConstant = "E046", Error, "an argument that must be a constant is not";
    BadLhist = "E047", Error, "`lhist` bounds that make no buckets";
    BadLoopRange = "E048", Error, "a `for` range that is empty or longer than 256";
    BadCast = "E049", Error, "a cast to an unknown type or of a non-integer";
    MapKeyUsage = "E050", Error, "a map used with keys in one place and without in another";
    NotAMap = "E051", Error, "a map operation on something that is not a map";
    BadField = "E052", Error, "`.` on something that has no fields, or a tuple index out of range";
    BadFormat = "E060", Error, "a printf format that is not a string literal or has an unknown conversion";
    FormatArgCount = "E061", Error, "printf arguments that do not match the conversions in number";
    FormatArgType = "E062", Error, "a printf argument of the wrong type for its conversion";
    StackExhausted = "E070", Error, "a probe that needs more than the 512-byte eBPF stack";
    ProgramTooLarge = "E071", Error, "a probe whose code exceeds the bytecode limits";
    TooManyMaps = "E072", Error, "more maps than an object may hold (64)";
    RecordTooLarge = "E073", Error, "a printf record larger than 256 bytes";
    TooManyProbes = "E074", Error, "more programs than an object may hold (64)";
    TooManyFormats = "E075", Error, "more printf formats than an object may hold (256)";
    UnusedVariable = "W001", Warning, "a `$variable` that is assigned but never read";
    MapNeverWritten = "W002", Warning, "a map that is read, deleted or printed but never assigned (reads give 0)";
    MapNeverRead = "W003", Warning, "a plain map that is written but never read, deleted or printed";
    PredicateAlwaysTrue = "W004", Warning, "a predicate that is always true";
    PredicateAlwaysFalse = "W005", Warning, "a predicate that is always false (the probe never runs)";
    Unreachable = "W006", Warning, "statements after `exit()` that never run";
    ConditionConstant = "W007", Warning, "an `if` condition that is constant";
}

/// A span with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What about it (may be empty).
    pub message: String,
}

/// One diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code; it also gives the severity.
    pub code: Code,
    /// The headline.
    pub message: String,
    /// The offending span.
    pub primary: Label,
    /// Related spans.
    pub secondary: Vec<Label>,
    /// `help:` lines: what to do.
    pub help: Vec<String>,
    /// `note:` lines: why.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with a primary label.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Set the primary label's message.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    /// Add a secondary label.
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Add a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    /// Add a `note:` line.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// As a codespan diagnostic on file `()`, with spans clamped to the
    /// source so rendering can never fail on them.
    pub fn to_codespan(&self, source: &str) -> cs::Diagnostic<()> {
        let sev = match self.severity() {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let mut labels = vec![
            cs::Label::primary((), clamp(source, self.primary.span))
                .with_message(&self.primary.message),
        ];
        labels.extend(
            self.secondary
                .iter()
                .map(|l| cs::Label::secondary((), clamp(source, l.span)).with_message(&l.message)),
        );
        let notes = self
            .help
            .iter()
            .map(|h| format!("help: {h}"))
            .chain(self.notes.iter().map(|n| format!("note: {n}")))
            .collect();
        cs::Diagnostic::new(sev)
            .with_code(self.code.as_str())
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(notes)
    }
}

/// A span made safe for slicing `source`: inside it and on char boundaries.
fn clamp(source: &str, span: Span) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start as usize);
    let end = fix(span.end as usize).max(start);
    start..end
}

/// Write `diags` for the script `name` with codespan's rich style.
/// `writer` decides about colors (`StandardStream::stderr(ColorChoice::Auto)`
/// in the CLI).
pub fn emit(
    writer: &mut dyn WriteColor,
    diags: &[Diagnostic],
    name: &str,
    source: &str,
) -> io::Result<()> {
    let file = SimpleFile::new(name, source);
    let config = term::Config::default();
    for d in diags {
        term::emit(writer, &config, &file, &d.to_codespan(source))
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// Render `diags` to a plain string (no colors), as the snapshot tests and
/// non-terminal outputs want.
pub fn render(diags: &[Diagnostic], name: &str, source: &str) -> String {
    let mut out = NoColor::new(Vec::new());
    // Writing into a Vec cannot fail, and spans are clamped.
    let _ = emit(&mut out, diags, name, source);
    String::from_utf8_lossy(&out.into_inner()).into_owned()
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a typo
/// (distance at most a third of the length, and at least 1 allowed).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, c)| (d, c.len()))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        for (i, c) in Code::ALL.iter().enumerate() {
            let s = c.as_str();
            assert_eq!(s.len(), 4);
            let expect = if c.severity() == Severity::Error {
                'E'
            } else {
                'W'
            };
            assert!(s.starts_with(expect), "{s}");
            assert!(!Code::ALL[i + 1..].iter().any(|d| d.as_str() == s), "{s}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("cap:aloc", ["cap:alloc", "cap:free"]),
            Some("cap:alloc")
        );
        assert_eq!(suggest("zzz", ["cap:alloc"]), None);
    }

    #[test]
    fn rendering_clamps_wild_spans() {
        let d = Diagnostic::new(Code::UnknownProbe, Span { start: 3, end: 99 }, "x")
            .secondary(Span { start: 1, end: 2 }, "y")
            .help("z");
        let out = render(&[d], "t.probe", "é{}");
        assert!(out.contains("error[E020]: x"), "{out}");
        assert!(out.contains("help: z"), "{out}");
    }
}
