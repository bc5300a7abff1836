//! The spanned token stream the grammar reads.
//!
//! This adapter turns `logos` tokens into the `(start, token, end)` triples
//! lalrpop wants, with byte offsets. It does two things the context-free
//! logos enum cannot:
//!
//! - **Probe names.** Between probes (outside predicates and blocks), runs
//!   of adjacent identifier, number, `:` and `*` tokens are glued into one
//!   [`Token::ProbeName`], so `syscall:enter:map` and `cap:*` are single
//!   tokens with one span, while `a ? b : c` inside a block stays an
//!   expression. The adapter tracks `/ ... /` predicates (a `/` at
//!   parenthesis depth 0 closes one, so division in a predicate needs
//!   parentheses, as in bpftrace) and `{ ... }` nesting for this.
//! - **Lexical errors** do not stop the parse: each is recorded as a
//!   [`LexIssue`] and the bad bytes are skipped (or a placeholder literal is
//!   produced), so one run reports lexical and syntax errors together.

use std::ops::Range;

use logos::Logos;

use crate::tokens::{LexError, Token};

/// A token with its byte range, as lalrpop consumes it.
pub type Spanned = Result<(usize, Token, usize), LexError>;

/// A lexical error with where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexIssue {
    /// What went wrong.
    pub error: LexError,
    /// The offending bytes.
    pub span: Range<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between probes: probe names, `,`, the start of a predicate or block.
    Top,
    /// Inside `/ ... /`, with the parenthesis depth.
    Predicate(u32),
    /// Inside a probe body, with the brace depth (at least 1).
    Body(u32),
}

/// The adapter. Iterate it (by `&mut`, so [`Lexer::issues`] can be read
/// afterwards).
pub struct Lexer<'s> {
    source: &'s str,
    inner: logos::Lexer<'s, Token>,
    peeked: Option<(Result<Token, LexError>, Range<usize>)>,
    mode: Mode,
    issues: Vec<LexIssue>,
}

impl<'s> Lexer<'s> {
    /// Lex `source` from its start.
    pub fn new(source: &'s str) -> Lexer<'s> {
        Lexer {
            source,
            inner: Token::lexer(source),
            peeked: None,
            mode: Mode::Top,
            issues: Vec::new(),
        }
    }

    /// The lexical errors seen so far.
    pub fn issues(&self) -> &[LexIssue] {
        &self.issues
    }

    /// The next raw token, with block comments dropped and errors recorded.
    /// Errors that still leave a usable token (a bad string, an overflowing
    /// number) yield a placeholder so the parser does not report the same
    /// place twice.
    fn raw(&mut self) -> Option<(Token, Range<usize>)> {
        loop {
            let (tok, span) = match self.peeked.take() {
                Some(p) => p,
                None => {
                    let t = self.inner.next()?;
                    (t, self.inner.span())
                }
            };
            match tok {
                Ok(Token::BlockComment) => continue,
                Ok(t) => return Some((t, span)),
                Err(error) => {
                    let placeholder = match error {
                        LexError::UnterminatedString | LexError::BadEscape => {
                            Some(Token::Str(String::new()))
                        }
                        LexError::IntOverflow => Some(Token::Int(0)),
                        LexError::UnexpectedChar | LexError::UnterminatedComment => None,
                    };
                    self.issues.push(LexIssue {
                        error,
                        span: span.clone(),
                    });
                    if let Some(t) = placeholder {
                        return Some((t, span));
                    }
                }
            }
        }
    }

    fn peek_raw(&mut self) -> Option<&(Result<Token, LexError>, Range<usize>)> {
        if self.peeked.is_none() {
            let t = self.inner.next()?;
            self.peeked = Some((t, self.inner.span()));
        }
        self.peeked.as_ref()
    }

    /// Glue a probe name that starts with `first`.
    fn probe_name(&mut self, first: Range<usize>) -> (Token, Range<usize>) {
        let start = first.start;
        let mut end = first.end;
        while let Some((Ok(t), span)) = self.peek_raw() {
            let piece = matches!(
                t,
                Token::Ident(_)
                    | Token::Int(_)
                    | Token::Colon
                    | Token::Star
                    | Token::TypeName(_)
                    | Token::If
                    | Token::Else
                    | Token::For
                    | Token::Bool(_)
            );
            if !piece || span.start != end {
                break;
            }
            end = span.end;
            self.peeked = None;
        }
        let text = self.source.get(start..end).unwrap_or_default().to_string();
        (Token::ProbeName(text), start..end)
    }
}

impl Iterator for Lexer<'_> {
    type Item = Spanned;

    fn next(&mut self) -> Option<Spanned> {
        let (tok, span) = self.raw()?;
        let (tok, span) = match (self.mode, tok) {
            (
                Mode::Top,
                Token::Ident(_)
                | Token::Star
                | Token::TypeName(_)
                | Token::If
                | Token::Else
                | Token::For
                | Token::Bool(_),
            ) => self.probe_name(span),
            (_, tok) => (tok, span),
        };
        self.mode = match (self.mode, &tok) {
            (Mode::Top, Token::Slash) => Mode::Predicate(0),
            (Mode::Top | Mode::Predicate(_), Token::LBrace) => Mode::Body(1),
            (Mode::Predicate(d), Token::LParen) => Mode::Predicate(d.saturating_add(1)),
            (Mode::Predicate(d), Token::RParen) => Mode::Predicate(d.saturating_sub(1)),
            (Mode::Predicate(0), Token::Slash) => Mode::Top,
            (Mode::Body(d), Token::LBrace) => Mode::Body(d.saturating_add(1)),
            (Mode::Body(1), Token::RBrace) => Mode::Top,
            (Mode::Body(d), Token::RBrace) => Mode::Body(d - 1),
            (m, _) => m,
        };
        Some(Ok((span.start, tok, span.end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Token> {
        Lexer::new(src).map(|t| t.map(|t| t.1).unwrap()).collect()
    }

    #[test]
    fn probe_names_are_glued_only_between_probes() {
        assert_eq!(
            toks("syscall:enter:map, cap:* /a ? b:c/ { $x = a ? b:c; }")[..4],
            [
                Token::ProbeName("syscall:enter:map".into()),
                Token::Comma,
                Token::ProbeName("cap:*".into()),
                Token::Slash,
            ]
        );
        let t = toks("BEGIN { $x = a ? b:c; } interval:s:1 {}");
        assert!(t.contains(&Token::Ident("b".into())));
        assert!(t.contains(&Token::ProbeName("interval:s:1".into())));
        assert!(t.contains(&Token::ProbeName("BEGIN".into())));
    }

    #[test]
    fn spaces_split_probe_names() {
        assert_eq!(
            toks("cap: alloc")[..],
            [
                Token::ProbeName("cap:".into()),
                Token::ProbeName("alloc".into())
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("{ 0x1F 1_000 \"a\\n\" /* c */ @ @x $y }")[1..7],
            [
                Token::Int(31),
                Token::Int(1000),
                Token::Str("a\n".into()),
                Token::Map("@".into()),
                Token::Map("@x".into()),
                Token::Var("$y".into()),
            ]
        );
    }

    #[test]
    fn errors_are_recorded_and_skipped() {
        let mut l = Lexer::new("{ # 99999999999999999999999 \"abc\n }");
        let t: Vec<_> = l.by_ref().map(|t| t.unwrap().1).collect();
        assert_eq!(
            t,
            [
                Token::LBrace,
                Token::Int(0),
                Token::Str(String::new()),
                Token::RBrace
            ]
        );
        let kinds: Vec<_> = l.issues().iter().map(|i| i.error.clone()).collect();
        assert_eq!(
            kinds,
            [
                LexError::UnexpectedChar,
                LexError::IntOverflow,
                LexError::UnterminatedString
            ]
        );
    }

    #[test]
    fn division_inside_parentheses_stays_in_the_predicate() {
        let t = toks("p /($a / 2) > 1/ { }");
        assert_eq!(t.last(), Some(&Token::RBrace));
        assert_eq!(t.iter().filter(|t| **t == Token::Slash).count(), 3);
    }
}
