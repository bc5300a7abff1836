//! Stage 1: source text to [`ast::Program`], with every lexical and syntax
//! error as a [`Diagnostic`].
//!
//! The generated parser recovers from syntax errors (see the `!` rules in
//! `grammar.lalrpop`), so one run reports each independent mistake. A syntax
//! error right after a lexical error is not reported: it is almost always a
//! consequence of the same typo.

use lalrpop_util::{ErrorRecovery, ParseError};

use crate::ast::{self, Expr, ExprKind, MAX_DEPTH, Span, Stmt, StmtKind};
use crate::diag::{Code, Diagnostic};
use crate::lexer::Lexer;
use crate::tokens::{CompoundOp, LexError, Token};

#[allow(clippy::all, missing_docs, unused_parens, dead_code)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/grammar.rs"));
}

/// Largest script accepted, so spans fit in `u32` with room to spare and a
/// runaway input fails fast.
pub const MAX_SOURCE: usize = 1 << 20;

/// State the grammar's actions share: recorded errors and the depth guard.
pub struct Ctx {
    diags: Vec<Diagnostic>,
    too_deep_reported: bool,
}

/// What the grammar's `!` rules receive.
type Recovery = ErrorRecovery<usize, Token, LexError>;

impl Ctx {
    /// Record a recovered syntax error; returns the span it covers (the bad
    /// token through the last one the parser skipped).
    pub(crate) fn recover(&mut self, e: Recovery) -> Span {
        let mut span = error_span(&e.error);
        if let Some((_, _, end)) = e.dropped_tokens.last() {
            span = span.to(Span::new(span.start as usize, *end));
        }
        self.diags.push(syntax_diag(e.error));
        span
    }

    /// Build an expression node, refusing to nest deeper than [`MAX_DEPTH`].
    pub(crate) fn expr(&mut self, kind: ExprKind, l: usize, r: usize) -> Expr {
        let e = Expr::new(kind, Span::new(l, r));
        if e.depth() > MAX_DEPTH {
            self.too_deep(e.span);
            return Expr::error(e.span);
        }
        e
    }

    /// Build a statement node, with the same depth guard.
    pub(crate) fn stmt(&mut self, kind: StmtKind, l: usize, r: usize) -> Stmt {
        let s = Stmt::new(kind, Span::new(l, r));
        if s.depth() > MAX_DEPTH {
            self.too_deep(s.span);
            return Stmt::new(StmtKind::Error, s.span);
        }
        s
    }

    /// The literal `1` that `x++` adds.
    pub(crate) fn one(l: usize, r: usize) -> Expr {
        Expr::new(ExprKind::Int(1), Span::new(l, r))
    }

    fn too_deep(&mut self, span: Span) {
        if !self.too_deep_reported {
            self.too_deep_reported = true;
            self.diags.push(
                Diagnostic::new(Code::TooDeep, span, "nested too deeply")
                    .label(format!("more than {MAX_DEPTH} levels of nesting"))
                    .help("split the expression using `$variables`"),
            );
        }
    }
}

/// The binary operator of a compound assignment.
pub(crate) fn compound(op: CompoundOp) -> ast::BinOp {
    use ast::BinOp as B;
    match op {
        CompoundOp::Add => B::Add,
        CompoundOp::Sub => B::Sub,
        CompoundOp::Mul => B::Mul,
        CompoundOp::Div => B::Div,
        CompoundOp::Mod => B::Mod,
        CompoundOp::And => B::BitAnd,
        CompoundOp::Or => B::BitOr,
        CompoundOp::Xor => B::BitXor,
        CompoundOp::Shl => B::Shl,
        CompoundOp::Shr => B::Shr,
    }
}

/// Parse a script. Returns the tree (with recovery nodes where the input was
/// broken) and every lexical and syntax diagnostic; the tree is `None` only
/// when the parser could not recover at all.
pub fn parse(source: &str) -> (Option<ast::Program>, Vec<Diagnostic>) {
    if source.len() > MAX_SOURCE {
        let d = Diagnostic::new(
            Code::ScriptTooLarge,
            Span::new(MAX_SOURCE, MAX_SOURCE),
            format!(
                "the script is {} bytes; at most {MAX_SOURCE} are accepted",
                source.len()
            ),
        );
        return (None, vec![d]);
    }
    let mut ctx = Ctx {
        diags: Vec::new(),
        too_deep_reported: false,
    };
    let mut lexer = Lexer::new(source);
    let result = generated::ProgramParser::new().parse(&mut ctx, &mut lexer);
    let (program, mut syntax) = match result {
        Ok(p) => (Some(p), ctx.diags),
        Err(e) => {
            let mut d = ctx.diags;
            d.push(syntax_diag(e));
            (None, d)
        }
    };
    let lex: Vec<Diagnostic> = lexer.issues().iter().map(lex_diag).collect();
    // Drop syntax errors at the first token after a lexical error.
    syntax.retain(|d| {
        d.code == Code::TooDeep
            || !lexer.issues().iter().any(|i| {
                let gap = source
                    .get(i.span.end..d.primary.span.start as usize)
                    .unwrap_or("x");
                gap.trim().is_empty()
            })
    });
    // After a syntax error the parser resynchronizes at the next statement,
    // and what it skips often yields a second, derived error on the same
    // line (`if ($x = 1) {` reports the `=` and then the `)`). Keep the
    // first syntax error of each line; independent mistakes on other lines
    // are all reported.
    syntax.sort_by_key(|d| d.primary.span.start);
    let line_of = |d: &Diagnostic| {
        let at = (d.primary.span.start as usize).min(source.len());
        source.as_bytes()[..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    };
    let mut last_line = None;
    syntax.retain(|d| {
        if d.code == Code::TooDeep {
            return true;
        }
        let line = line_of(d);
        let keep = last_line != Some(line);
        last_line = Some(line);
        keep
    });
    let mut all = lex;
    all.extend(syntax);
    all.sort_by_key(|d| (d.primary.span.start, d.code.as_str()));
    (program, all)
}

fn lex_diag(i: &crate::lexer::LexIssue) -> Diagnostic {
    let span = Span::new(i.span.start, i.span.end);
    match i.error {
        LexError::UnexpectedChar => {
            Diagnostic::new(Code::UnexpectedChar, span, "unexpected character")
                .label("no token starts with this")
        }
        LexError::UnterminatedString => Diagnostic::new(
            Code::UnterminatedString,
            span,
            "unterminated string literal",
        )
        .label("this string has no closing `\"` on its line"),
        LexError::UnterminatedComment => Diagnostic::new(
            Code::UnterminatedComment,
            span,
            "unterminated block comment",
        )
        .label("this `/*` has no `*/`"),
        LexError::BadEscape => Diagnostic::new(Code::BadEscape, span, "unknown escape in string")
            .label("contains an unknown `\\` escape")
            .help("the escapes are \\n \\t \\r \\0 \\\\ and \\\""),
        LexError::IntOverflow => {
            Diagnostic::new(Code::IntOverflow, span, "integer literal too large")
                .label("does not fit in 64 bits")
        }
    }
}

fn error_span(e: &ParseError<usize, Token, LexError>) -> Span {
    match e {
        ParseError::InvalidToken { location } | ParseError::UnrecognizedEof { location, .. } => {
            Span::new(*location, *location)
        }
        ParseError::UnrecognizedToken { token, .. } | ParseError::ExtraToken { token } => {
            Span::new(token.0, token.2)
        }
        ParseError::User { .. } => Span::default(),
    }
}

fn syntax_diag(e: ParseError<usize, Token, LexError>) -> Diagnostic {
    let span = error_span(&e);
    match e {
        ParseError::UnrecognizedEof { expected, .. } => {
            Diagnostic::new(Code::UnexpectedEof, span, "unexpected end of script")
                .label(format!("expected {}", expected_list(&expected)))
        }
        ParseError::UnrecognizedToken {
            token: (_, tok, _),
            expected,
        } => {
            let mut d = Diagnostic::new(Code::UnexpectedToken, span, format!("unexpected {tok}"))
                .label(format!("expected {}", expected_list(&expected)));
            if let Some(h) = token_help(&tok, &expected) {
                d = d.help(h);
            }
            d
        }
        ParseError::ExtraToken { token: (_, tok, _) } => {
            Diagnostic::new(Code::UnexpectedToken, span, format!("unexpected {tok}"))
                .label("expected the end of the script")
        }
        ParseError::InvalidToken { .. } | ParseError::User { .. } => {
            Diagnostic::new(Code::UnexpectedChar, span, "invalid token")
        }
    }
}

/// Hints for the classic slips.
fn token_help(tok: &Token, expected: &[String]) -> Option<String> {
    let expects = |t: &str| expected.iter().any(|e| e == t);
    match tok {
        Token::Ident(_) | Token::Map(_) | Token::Var(_) | Token::Int(_) if expects("\";\"") => {
            Some("statements are separated by `;`".into())
        }
        Token::Slash if expects("\"{\"") || expects("\"/\"") => {
            Some("inside a predicate, write division in parentheses: `/($a / 2) > 1/`".into())
        }
        Token::Assign if expects("\"==\"") => Some("to compare, write `==`".into()),
        _ if expected.len() == 1 && expects("\"{\"") => Some(
            "a probe body starts with `{`; if a `/` before this was meant as division, \
             put it in parentheses: `/($a / 2) > 1/`"
                .into(),
        ),
        _ => None,
    }
}

/// Turn lalrpop's expected-terminal list into words. Tokens that can start
/// an expression collapse into "an expression".
fn expected_list(expected: &[String]) -> String {
    const EXPR_START: &[&str] = &[
        "\"int\"",
        "\"bool\"",
        "\"string\"",
        "\"ident\"",
        "\"var\"",
        "\"map\"",
        "\"(\"",
        "\"-\"",
        "\"!\"",
        "\"~\"",
    ];
    const OPERATORS: &[&str] = &[
        "\"+\"", "\"-\"", "\"*\"", "\"/\"", "\"%\"", "\"&\"", "\"|\"", "\"^\"", "\"<<\"", "\">>\"",
        "\"==\"", "\"!=\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"&&\"", "\"||\"", "\"?\"",
        "\".\"",
    ];
    let mut words: Vec<String> = Vec::new();
    // After a complete operand, any binary operator could continue it:
    // name the tokens that end or separate things, then "an operator".
    let has_ops = expected
        .iter()
        .filter(|e| OPERATORS.contains(&e.as_str()))
        .count()
        > 4;
    let expected: Vec<String> = if has_ops {
        let mut v: Vec<String> = expected
            .iter()
            .filter(|e| !OPERATORS.contains(&e.as_str()))
            .cloned()
            .collect();
        v.push("\"an operator\"".into());
        v
    } else {
        expected.to_vec()
    };
    let expected = expected.as_slice();
    let has_expr = expected.iter().any(|e| e == "\"int\"") && expected.iter().any(|e| e == "\"(\"");
    if has_expr {
        words.push("an expression".into());
    }
    for e in expected {
        if has_expr && EXPR_START.contains(&e.as_str()) {
            continue;
        }
        let w = match e.as_str() {
            "\"ident\"" => "an identifier".to_string(),
            "\"int\"" => "an integer".to_string(),
            "\"bool\"" => "`true` or `false`".to_string(),
            "\"string\"" => "a string".to_string(),
            "\"map\"" => "a map".to_string(),
            "\"var\"" => "a `$variable`".to_string(),
            "\"probe\"" => "a probe name".to_string(),
            "\"type\"" => "a type name".to_string(),
            "\"op=\"" => "a compound assignment".to_string(),
            "\"block_comment\"" => continue,
            "\"an operator\"" => "an operator".to_string(),
            other => format!("`{}`", other.trim_matches('"')),
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    match words.len() {
        0 => "nothing more".into(),
        1 => words.remove(0),
        n if n > 8 => format!("{} or one of {} other tokens", words[..4].join(", "), n - 4),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {last}", words.join(", "))
        }
    }
}
