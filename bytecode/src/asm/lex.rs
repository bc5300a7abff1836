//! Splitting one line of assembly into tokens.
//!
//! The syntax is line-oriented (one instruction or label per line), so the
//! lexer works a line at a time and positions are byte offsets into the line.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::error::AsmErrorKind;

/// One token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    /// A word: a register, mnemonic, type, helper or label name.
    Ident(&'a str),
    /// A numeric literal as written (parsed where its range is known).
    Num(&'a str),
    /// An operator or bracket, including the signed operators `s>=`, `s/=`...
    Punct(&'static str),
}

/// A token and its byte range in the line.
#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

/// An error inside one line: byte range in the line, and what is wrong.
#[derive(Debug)]
pub(super) struct LineError {
    pub start: usize,
    pub end: usize,
    pub kind: AsmErrorKind,
}

/// Operators, longest first so that `<<=` is not read as `<` `<=`.
const PUNCTS: [&str; 28] = [
    "<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "==", "!=", ">=", "<=", ">", "<",
    "=", "&", "(", ")", "*", "+", "-", ",", "[", "]", ":", "#",
];

/// What may follow an `s` to make a signed operator, longest first.
const SIGNED: [(&str, &str); 7] = [
    (">>=", "s>>="),
    ("/=", "s/="),
    ("%=", "s%="),
    (">=", "s>="),
    ("<=", "s<="),
    (">", "s>"),
    ("<", "s<"),
];

/// The line without its comment. Comments run from `;` or `//` to the end
/// of the line. `#` is not a comment because `call btf#N` uses it.
pub(super) fn strip_comment(line: &str) -> &str {
    let semi = line.find(';').unwrap_or(line.len());
    let slashes = line.find("//").unwrap_or(line.len());
    &line[..semi.min(slashes)]
}

const fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

const fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Split a comment-free line into tokens.
pub(super) fn tokenize(line: &str) -> Result<Vec<Token<'_>>, LineError> {
    let mut out = Vec::new();
    let mut rest = line.char_indices().peekable();
    while let Some(&(start, c)) = rest.peek() {
        if c.is_whitespace() {
            rest.next();
            continue;
        }
        if is_ident_start(c) || c.is_ascii_digit() {
            let mut end = start;
            while let Some(&(i, c)) = rest.peek() {
                if !is_ident_continue(c) {
                    break;
                }
                end = i + c.len_utf8();
                rest.next();
            }
            let word = &line[start..end];
            if word == "s" {
                // `s>=`, `s/=`, ...: signed comparisons and operations.
                let after = &line[end..];
                if let Some(&(tail, op)) = SIGNED.iter().find(|(t, _)| after.starts_with(t)) {
                    for _ in 0..tail.len() {
                        rest.next();
                    }
                    out.push(Token {
                        tok: Tok::Punct(op),
                        start,
                        end: end + tail.len(),
                    });
                    continue;
                }
            }
            let tok = if c.is_ascii_digit() {
                Tok::Num(word)
            } else {
                Tok::Ident(word)
            };
            out.push(Token { tok, start, end });
            continue;
        }
        let after = &line[start..];
        match PUNCTS.iter().find(|p| after.starts_with(*p)) {
            Some(p) => {
                // Operators are ASCII, so each byte is one char.
                for _ in 0..p.len() {
                    rest.next();
                }
                out.push(Token {
                    tok: Tok::Punct(p),
                    start,
                    end: start + p.len(),
                });
            }
            None => {
                return Err(LineError {
                    start,
                    end: start + c.len_utf8(),
                    kind: AsmErrorKind::Unexpected {
                        expected: "a register, number, name or operator",
                        found: Some(c.to_string()),
                    },
                });
            }
        }
    }
    Ok(out)
}

/// The value of a numeric literal: decimal digits, or `0x` and hex digits.
/// `None` if it is malformed; values beyond `u128` saturate, which every
/// range check then rejects.
pub(super) fn parse_number(raw: &str) -> Option<u128> {
    let (digits, radix) = match raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (raw, 10),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        value = value
            .saturating_mul(u128::from(radix))
            .saturating_add(u128::from(d));
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<Tok<'_>> {
        tokenize(line).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn operators_and_signed_forms() {
        assert_eq!(
            toks("if w1 s<= 0x10 goto -2"),
            [
                Tok::Ident("if"),
                Tok::Ident("w1"),
                Tok::Punct("s<="),
                Tok::Num("0x10"),
                Tok::Ident("goto"),
                Tok::Punct("-"),
                Tok::Num("2"),
            ]
        );
        assert_eq!(
            toks("r1 s>>=r2"),
            [Tok::Ident("r1"), Tok::Punct("s>>="), Tok::Ident("r2")]
        );
        assert_eq!(
            toks("*(u64*)(r10-8)=r1"),
            [
                Tok::Punct("*"),
                Tok::Punct("("),
                Tok::Ident("u64"),
                Tok::Punct("*"),
                Tok::Punct(")"),
                Tok::Punct("("),
                Tok::Ident("r10"),
                Tok::Punct("-"),
                Tok::Num("8"),
                Tok::Punct(")"),
                Tok::Punct("="),
                Tok::Ident("r1"),
            ]
        );
        // A lone `s` is a name (a label may be called `s`).
        assert_eq!(toks("goto s"), [Tok::Ident("goto"), Tok::Ident("s")]);
    }

    #[test]
    fn comments_and_bad_characters() {
        assert_eq!(strip_comment("exit ; done // x"), "exit ");
        assert_eq!(strip_comment("exit // done ; x"), "exit ");
        assert_eq!(strip_comment("call btf#3"), "call btf#3");
        let err = tokenize("r1 = é").unwrap_err();
        assert_eq!((err.start, err.end), (5, 7));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("007"), Some(7));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("12ab"), None);
        assert_eq!(parse_number(&"9".repeat(60)), Some(u128::MAX));
    }
}
