//! The syntax tree, exactly as written, with byte-offset spans.
//!
//! Nothing here is resolved or typed: `args.slot` is a field access on the
//! identifier `args`, `count()` is a call. [`crate::check`] gives meaning.
//! Recovery nodes ([`ExprKind::Error`], [`StmtKind::Error`]) stand where the
//! parser skipped input after a syntax error, so later passes can still look
//! at everything else (and say nothing more about the broken part).
//!
//! Every node knows its nesting depth. The parser refuses to build nodes
//! deeper than [`MAX_DEPTH`], which bounds the recursion of every later pass
//! (and of `Drop`) whatever the input.

use std::fmt::{self, Write as _};
use std::ops::Range;

/// Deepest expression or statement nesting the parser builds.
pub const MAX_DEPTH: u32 = 96;

/// A byte range of the script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The span `start..end` (the parser guarantees the source is < 4 GiB).
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// As a `Range` for slicing and for codespan.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl From<Span> for capscope_bytecode::object::Span {
    fn from(s: Span) -> Self {
        capscope_bytecode::object::Span {
            start: s.start,
            end: s.end,
        }
    }
}

/// A whole script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// The probes, in source order.
    pub probes: Vec<Probe>,
}

/// `PROBE[, PROBE...] [/predicate/] { statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The probe names as written.
    pub specs: Vec<Name>,
    /// The predicate, if any.
    pub predicate: Option<Expr>,
    /// The body.
    pub body: Block,
    /// From the first probe name to the closing brace.
    pub span: Span,
}

/// A name with its span: a probe name, `$var`, `@map`, function or field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// As written, including a `$` or `@` sigil.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// Including the braces.
    pub span: Span,
}

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where.
    pub span: Span,
    depth: u32,
}

/// The statements.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect: `delete(@m[k])`, `printf(...)`.
    Expr(Expr),
    /// `target = value`, or with `op`, `target op= value` (`++` is `+= 1`).
    Assign {
        /// A variable or map element.
        target: Target,
        /// The operator of a compound assignment.
        op: Option<BinOp>,
        /// The right-hand side.
        value: Expr,
    },
    /// `if (cond) { ... } [else ...]`; `else if` is an else block holding
    /// one `if`.
    If {
        /// The condition.
        cond: Expr,
        /// Taken when the condition is non-zero.
        then: Block,
        /// Taken otherwise.
        otherwise: Option<Block>,
    },
    /// `for ($i : start..end) { ... }`
    For {
        /// The loop variable.
        var: Name,
        /// First value.
        start: Expr,
        /// One past the last value.
        end: Expr,
        /// The body.
        body: Block,
    },
    /// A statement the parser skipped after a syntax error.
    Error,
}

/// What an assignment writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `$x`
    Var(Name),
    /// `@m[k]` or `@m`
    Map(MapRef),
}

/// `@name[keys]` or `@name`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapRef {
    /// The map, with its `@`.
    pub name: Name,
    /// The key expressions; `None` without brackets.
    pub keys: Option<Vec<Expr>>,
    /// The whole reference.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
    depth: u32,
}

/// The expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(u64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal, escapes decoded.
    Str(String),
    /// A builtin (`task`, `nsecs` ...), a named constant or `args`.
    Ident(String),
    /// `$name`
    Var(String),
    /// A map element read.
    Map(MapRef),
    /// `base.field`: `args.slot`, or a tuple element `$t.0`.
    Field {
        /// What is accessed.
        base: Box<Expr>,
        /// The field name or tuple index.
        field: Name,
    },
    /// `name(args)`
    Call {
        /// The function.
        func: Name,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `op expr`
    Unary {
        /// The operator.
        op: UnOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `cond ? then : otherwise`
    Ternary {
        /// The condition.
        cond: Box<Expr>,
        /// Value when non-zero.
        then: Box<Expr>,
        /// Value otherwise.
        otherwise: Box<Expr>,
    },
    /// `(a, b, ...)` with at least two elements.
    Tuple(Vec<Expr>),
    /// `(u32)expr`
    Cast {
        /// The type name.
        ty: Name,
        /// The operand.
        expr: Box<Expr>,
    },
    /// An expression the parser skipped after a syntax error.
    Error,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

/// Binary operators, by C precedence from tightest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinOp {
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::BitAnd => "&",
            BinOp::BitXor => "^",
            BinOp::BitOr => "|",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// True for `< <= > >= == !=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

impl UnOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
        }
    }
}

impl Expr {
    /// A node; its depth is one more than its deepest child's.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let child = |e: &Expr| e.depth;
        let depth = 1 + match &kind {
            ExprKind::Map(m) => m.key_depth(),
            ExprKind::Field { base, .. } => child(base),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => {
                args.iter().map(child).max().unwrap_or(0)
            }
            ExprKind::Unary { expr, .. } | ExprKind::Cast { expr, .. } => child(expr),
            ExprKind::Binary { lhs, rhs, .. } => child(lhs).max(child(rhs)),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => child(cond).max(child(then)).max(child(otherwise)),
            _ => 0,
        };
        Expr { kind, span, depth }
    }

    /// A recovery node.
    pub fn error(span: Span) -> Expr {
        Expr::new(ExprKind::Error, span)
    }

    /// Nesting depth (a leaf is 1).
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

impl MapRef {
    fn key_depth(&self) -> u32 {
        self.keys
            .iter()
            .flatten()
            .map(Expr::depth)
            .max()
            .unwrap_or(0)
    }
}

impl Block {
    /// Deepest statement inside.
    pub fn depth(&self) -> u32 {
        self.stmts.iter().map(|s| s.depth).max().unwrap_or(0)
    }
}

impl Stmt {
    /// A node; its depth counts the blocks and expressions inside.
    pub fn new(kind: StmtKind, span: Span) -> Stmt {
        let depth = 1 + match &kind {
            StmtKind::Expr(e) => e.depth,
            StmtKind::Assign { target, value, .. } => {
                let t = match target {
                    Target::Var(_) => 0,
                    Target::Map(m) => m.key_depth(),
                };
                t.max(value.depth)
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => cond
                .depth
                .max(then.depth())
                .max(otherwise.as_ref().map_or(0, Block::depth)),
            StmtKind::For {
                start, end, body, ..
            } => start.depth.max(end.depth).max(body.depth()),
            StmtKind::Error => 0,
        };
        Stmt { kind, span, depth }
    }

    /// Nesting depth.
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

// ---------------------------------------------------------------------------
// The dump `capscope check --emit ast` prints and the snapshot tests pin: an
// indented tree of statements with their spans, expressions as
// s-expressions.

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.probes {
            let names: Vec<&str> = p.specs.iter().map(|s| s.name.as_str()).collect();
            writeln!(f, "probe {} @{}", names.join(", "), span(p.span))?;
            if let Some(pred) = &p.predicate {
                writeln!(f, "  predicate {pred}")?;
            }
            block(f, &p.body, 1)?;
        }
        Ok(())
    }
}

fn span(s: Span) -> String {
    format!("{}..{}", s.start, s.end)
}

fn block(f: &mut fmt::Formatter<'_>, b: &Block, indent: usize) -> fmt::Result {
    for s in &b.stmts {
        stmt(f, s, indent)?;
    }
    Ok(())
}

fn stmt(f: &mut fmt::Formatter<'_>, s: &Stmt, indent: usize) -> fmt::Result {
    let pad = "  ".repeat(indent);
    let at = span(s.span);
    match &s.kind {
        StmtKind::Expr(e) => writeln!(f, "{pad}expr {e} @{at}"),
        StmtKind::Assign { target, op, value } => {
            let t = match target {
                Target::Var(n) => n.name.clone(),
                Target::Map(m) => map_ref(m),
            };
            let op = op.map_or(String::new(), |o| o.symbol().to_string());
            writeln!(f, "{pad}assign {t} {op}= {value} @{at}")
        }
        StmtKind::If {
            cond,
            then,
            otherwise,
        } => {
            writeln!(f, "{pad}if {cond} @{at}")?;
            block(f, then, indent + 1)?;
            if let Some(o) = otherwise {
                writeln!(f, "{pad}else")?;
                block(f, o, indent + 1)?;
            }
            Ok(())
        }
        StmtKind::For {
            var,
            start,
            end,
            body,
        } => {
            writeln!(f, "{pad}for {} in {start}..{end} @{at}", var.name)?;
            block(f, body, indent + 1)
        }
        StmtKind::Error => writeln!(f, "{pad}<error> @{at}"),
    }
}

fn map_ref(m: &MapRef) -> String {
    match &m.keys {
        None => m.name.name.clone(),
        Some(keys) => {
            let mut s = format!("{}[", m.name.name);
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{k}");
            }
            s.push(']');
            s
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(v) => write!(f, "{v}"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Str(s) => write!(f, "{s:?}"),
            ExprKind::Ident(s) | ExprKind::Var(s) => f.write_str(s),
            ExprKind::Map(m) => f.write_str(&map_ref(m)),
            ExprKind::Field { base, field } => write!(f, "{base}.{}", field.name),
            ExprKind::Call { func, args } => {
                write!(f, "({}", func.name)?;
                for a in args {
                    write!(f, " {a}")?;
                }
                f.write_str(")")
            }
            ExprKind::Unary { op, expr } => write!(f, "({} {expr})", op.symbol()),
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({} {lhs} {rhs})", op.symbol()),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => write!(f, "(? {cond} {then} {otherwise})"),
            ExprKind::Tuple(items) => {
                f.write_str("(tuple")?;
                for a in items {
                    write!(f, " {a}")?;
                }
                f.write_str(")")
            }
            ExprKind::Cast { ty, expr } => write!(f, "(cast {} {expr})", ty.name),
            ExprKind::Error => f.write_str("<error>"),
        }
    }
}
