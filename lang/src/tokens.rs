//! The tokens of the probe language, as a `logos` enum.
//!
//! The lexer is context-free here; the one context-dependent token, a probe
//! name such as `syscall:enter:map` or `cap:*`, is assembled from these
//! tokens by [`crate::lexer`], which knows whether it is between probes or
//! inside a predicate or block.

use std::fmt;

use logos::Logos;

/// Why the lexer could not make a token out of some bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LexError {
    /// A byte that starts no token.
    #[default]
    UnexpectedChar,
    /// `/*` without `*/`.
    UnterminatedComment,
    /// `"` without a closing `"` on the same line.
    UnterminatedString,
    /// A backslash escape the language does not know.
    BadEscape,
    /// An integer literal that does not fit in 64 bits.
    IntOverflow,
}

/// One token. Literals carry their decoded value.
#[derive(Logos, Clone, Debug, PartialEq, Eq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip r"//[^\n]*")]
pub enum Token {
    /// A block comment; `lexer.rs` drops it. Unterminated ones are errors.
    #[token("/*", block_comment)]
    BlockComment,

    /// `if`
    #[token("if")]
    If,
    /// `else`
    #[token("else")]
    Else,
    /// `for`
    #[token("for")]
    For,
    /// `true` or `false`
    #[token("true", |_| true)]
    #[token("false", |_| false)]
    Bool(bool),
    /// A cast type name: `u8` ... `u64`, `i8` ... `i64`.
    #[regex("u8|u16|u32|u64|i8|i16|i32|i64", |l| l.slice().to_string(), priority = 10)]
    TypeName(String),

    /// An identifier: builtin, constant, function, probe-name piece or `args`.
    #[regex("[A-Za-z_][A-Za-z0-9_]*", |l| l.slice().to_string())]
    Ident(String),
    /// `@name` or the bare `@`.
    #[regex("@[A-Za-z0-9_]*", |l| l.slice().to_string())]
    Map(String),
    /// `$name`
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*", |l| l.slice().to_string())]
    Var(String),
    /// An integer literal, decimal or hex, with optional `_` separators.
    #[regex("[0-9][0-9_]*", |l| parse_int(l.slice(), 10))]
    #[regex("0[xX][0-9a-fA-F_]+", |l| parse_int(&l.slice()[2..], 16))]
    Int(u64),
    /// A string literal with its escapes decoded.
    #[token("\"", string)]
    Str(String),

    /// A probe name assembled by `lexer.rs` (never produced by logos itself).
    ProbeName(String),

    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `,`
    #[token(",")]
    Comma,
    /// `;`
    #[token(";")]
    Semi,
    /// `:`
    #[token(":")]
    Colon,
    /// `?`
    #[token("?")]
    Question,
    /// `.`
    #[token(".")]
    Dot,
    /// `..`
    #[token("..")]
    DotDot,
    /// `=`
    #[token("=")]
    Assign,
    /// `+=` `-=` ... : an assignment with an operator.
    #[token("+=", |_| CompoundOp::Add)]
    #[token("-=", |_| CompoundOp::Sub)]
    #[token("*=", |_| CompoundOp::Mul)]
    #[token("/=", |_| CompoundOp::Div)]
    #[token("%=", |_| CompoundOp::Mod)]
    #[token("&=", |_| CompoundOp::And)]
    #[token("|=", |_| CompoundOp::Or)]
    #[token("^=", |_| CompoundOp::Xor)]
    #[token("<<=", |_| CompoundOp::Shl)]
    #[token(">>=", |_| CompoundOp::Shr)]
    CompoundAssign(CompoundOp),
    /// `++`
    #[token("++")]
    PlusPlus,
    /// `--`
    #[token("--")]
    MinusMinus,
    /// `+`
    #[token("+")]
    Plus,
    /// `-`
    #[token("-")]
    Minus,
    /// `*`
    #[token("*")]
    Star,
    /// `/`
    #[token("/")]
    Slash,
    /// `%`
    #[token("%")]
    Percent,
    /// `&`
    #[token("&")]
    Amp,
    /// `|`
    #[token("|")]
    Pipe,
    /// `^`
    #[token("^")]
    Caret,
    /// `~`
    #[token("~")]
    Tilde,
    /// `!`
    #[token("!")]
    Bang,
    /// `<<`
    #[token("<<")]
    Shl,
    /// `>>`
    #[token(">>")]
    Shr,
    /// `==`
    #[token("==")]
    EqEq,
    /// `!=`
    #[token("!=")]
    NotEq,
    /// `<`
    #[token("<")]
    Lt,
    /// `<=`
    #[token("<=")]
    Le,
    /// `>`
    #[token(">")]
    Gt,
    /// `>=`
    #[token(">=")]
    Ge,
    /// `&&`
    #[token("&&")]
    AndAnd,
    /// `||`
    #[token("||")]
    OrOr,
}

/// The operator of a compound assignment (`+=` ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CompoundOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

fn parse_int(digits: &str, radix: u32) -> Result<u64, LexError> {
    let mut v: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(radix).ok_or(LexError::UnexpectedChar)?;
        v = v
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(LexError::IntOverflow)?;
    }
    Ok(v)
}

/// Skips a block comment (not nested, as in C).
fn block_comment(lex: &mut logos::Lexer<Token>) -> Result<(), LexError> {
    match lex.remainder().find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            Ok(())
        }
        None => {
            lex.bump(lex.remainder().len());
            Err(LexError::UnterminatedComment)
        }
    }
}

/// Decodes a string literal after its opening quote. Strings end on the same
/// line: a missing quote is reported there rather than at the end of file.
fn string(lex: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    let rest = lex.remainder();
    let mut out = String::new();
    let mut chars = rest.char_indices();
    let mut bad_escape = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return if bad_escape {
                    Err(LexError::BadEscape)
                } else {
                    Ok(out)
                };
            }
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\n')) | None => break,
                Some(_) => bad_escape = true,
            },
            c => out.push(c),
        }
    }
    let line_end = rest.find('\n').unwrap_or(rest.len());
    lex.bump(line_end);
    Err(LexError::UnterminatedString)
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Token::BlockComment => "comment",
            Token::If => "`if`",
            Token::Else => "`else`",
            Token::For => "`for`",
            Token::Bool(true) => "`true`",
            Token::Bool(false) => "`false`",
            Token::TypeName(t) => return write!(f, "type `{t}`"),
            Token::Ident(s) => return write!(f, "identifier `{s}`"),
            Token::Map(s) => return write!(f, "map `{s}`"),
            Token::Var(s) => return write!(f, "variable `{s}`"),
            Token::Int(v) => return write!(f, "integer `{v}`"),
            Token::Str(_) => "string literal",
            Token::ProbeName(s) => return write!(f, "probe `{s}`"),
            Token::LBrace => "`{`",
            Token::RBrace => "`}`",
            Token::LParen => "`(`",
            Token::RParen => "`)`",
            Token::LBracket => "`[`",
            Token::RBracket => "`]`",
            Token::Comma => "`,`",
            Token::Semi => "`;`",
            Token::Colon => "`:`",
            Token::Question => "`?`",
            Token::Dot => "`.`",
            Token::DotDot => "`..`",
            Token::Assign => "`=`",
            Token::CompoundAssign(op) => {
                return write!(f, "`{}=`", op.symbol());
            }
            Token::PlusPlus => "`++`",
            Token::MinusMinus => "`--`",
            Token::Plus => "`+`",
            Token::Minus => "`-`",
            Token::Star => "`*`",
            Token::Slash => "`/`",
            Token::Percent => "`%`",
            Token::Amp => "`&`",
            Token::Pipe => "`|`",
            Token::Caret => "`^`",
            Token::Tilde => "`~`",
            Token::Bang => "`!`",
            Token::Shl => "`<<`",
            Token::Shr => "`>>`",
            Token::EqEq => "`==`",
            Token::NotEq => "`!=`",
            Token::Lt => "`<`",
            Token::Le => "`<=`",
            Token::Gt => "`>`",
            Token::Ge => "`>=`",
            Token::AndAnd => "`&&`",
            Token::OrOr => "`||`",
        };
        f.write_str(s)
    }
}

impl CompoundOp {
    /// The operator without its `=`.
    pub fn symbol(self) -> &'static str {
        match self {
            CompoundOp::Add => "+",
            CompoundOp::Sub => "-",
            CompoundOp::Mul => "*",
            CompoundOp::Div => "/",
            CompoundOp::Mod => "%",
            CompoundOp::And => "&",
            CompoundOp::Or => "|",
            CompoundOp::Xor => "^",
            CompoundOp::Shl => "<<",
            CompoundOp::Shr => ">>",
        }
    }
}
