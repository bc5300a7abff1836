//! Typing and folding expressions.

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::consts;
use capscope_bytecode::abi::fields::{self, Meaning};

use super::Checker;
use super::fold;
use super::ir::{TExpr, TKind};
use super::types::{IntTy, StackKind, Type};
use crate::ast::{self, BinOp, ExprKind, Span, UnOp};
use crate::diag::{Code, Diagnostic, suggest};

/// The builtins, for suggestions.
pub(super) const BUILTINS: &[&str] = &[
    "task", "pid", "tid", "cpu", "nsecs", "comm", "probe", "ustack", "kstack", "retval", "args",
];

/// Largest tuple, in bytes: values are built on the 512-byte stack.
const MAX_VALUE: u32 = 256;

/// Longest string literal, in bytes.
const MAX_STR: usize = 200;

fn konst(v: u64, ty: Type, span: Span) -> TExpr {
    TExpr {
        kind: TKind::Const(v),
        ty,
        span,
    }
}

/// The value of an expression already reported as wrong.
pub(super) fn poison(span: Span) -> TExpr {
    konst(0, Type::Error, span)
}

/// What a named constant stands for, from its prefix.
fn const_meaning(name: &str) -> Meaning {
    const PREFIXES: &[(&str, Meaning)] = &[
        ("SYS_", Meaning::Syscall),
        ("KIND_", Meaning::ObjectKind),
        ("RIGHT_", Meaning::Rights),
        ("FAULT_RESOLVED", Meaning::FaultOutcome),
        ("FAULT_REFLECTED", Meaning::FaultOutcome),
        ("FAULT_FATAL", Meaning::FaultOutcome),
        ("FAULT_", Meaning::FaultAccess),
        ("FREE_", Meaning::FreeReason),
        ("MAP_", Meaning::Flag),
        ("UNMAP_", Meaning::Flag),
        ("E", Meaning::Errno),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map_or(Meaning::Number, |&(_, m)| m)
}

impl Checker {
    /// Type an expression in value position.
    pub(crate) fn expr(&mut self, e: &ast::Expr) -> TExpr {
        let span = e.span;
        match &e.kind {
            ExprKind::Error => poison(span),
            // Literals are `i64`, as in bpftrace, unless they only fit a `u64`.
            ExprKind::Int(v) => konst(
                *v,
                Type::Int(if *v > i64::MAX as u64 {
                    IntTy::U64
                } else {
                    IntTy::I64
                }),
                span,
            ),
            ExprKind::Bool(b) => konst(u64::from(*b), Type::Bool, span),
            ExprKind::Str(s) => {
                if s.len() > MAX_STR {
                    let d = Diagnostic::new(Code::TypeMismatch, span, "string literal too long")
                        .label(format!("{} bytes; at most {MAX_STR} are allowed", s.len()));
                    self.err(d);
                    return poison(span);
                }
                let n = (s.len() + 1) as u16;
                TExpr {
                    kind: TKind::Str(s.as_bytes().to_vec()),
                    ty: Type::Str(n),
                    span,
                }
            }
            ExprKind::Ident(name) => self.ident(name, span),
            ExprKind::Var(name) => self.read_var(name, span),
            ExprKind::Map(m) => match self.map_key(m) {
                Some((id, key)) => self.map_read(id, key, span),
                None => poison(span),
            },
            ExprKind::Field { base, field } => {
                if let ExprKind::Ident(b) = &base.kind
                    && b == "args"
                {
                    let mut f = self.args_field(field);
                    f.span = span;
                    return f;
                }
                let b = self.expr(base);
                self.tuple_get(b, field, span)
            }
            ExprKind::Call { func, args } => self.call_expr(func, args, span),
            ExprKind::Unary { op, expr } => {
                let x = self.expr(expr);
                self.unary(*op, x, span)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                self.binary(*op, l, r, span)
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                let c = self.truthy(c, "a condition");
                let a = self.expr(then);
                let b = self.expr(otherwise);
                let ty = match (&a.ty, &b.ty) {
                    (x, y) if x.is_scalar() && y.is_scalar() => {
                        if *x == Type::Bool && *y == Type::Bool {
                            Type::Bool
                        } else {
                            a.ty.int_or_u64()
                                .unify(&b.ty.int_or_u64())
                                .unwrap_or(Type::Error)
                        }
                    }
                    (x, y) => match x.unify(y) {
                        Some(t) if t != Type::Void => t,
                        _ => {
                            let d = Diagnostic::new(
                                Code::TypeMismatch,
                                then.span.to(otherwise.span),
                                format!("the branches of `?:` differ: {x} and {y}"),
                            )
                            .label(format!("this is {x}"))
                            .secondary(otherwise.span, format!("this is {y}"));
                            self.err(d);
                            Type::Error
                        }
                    },
                };
                match c.constant() {
                    Some(v) if c.ty != Type::Error => {
                        let mut pick = if v != 0 { a } else { b };
                        pick.ty = ty;
                        pick
                    }
                    _ => TExpr {
                        kind: TKind::Ternary(Box::new(c), Box::new(a), Box::new(b)),
                        ty,
                        span,
                    },
                }
            }
            ExprKind::Tuple(items) => {
                let items: Vec<TExpr> = items.iter().map(|i| self.expr(i)).collect();
                for i in &items {
                    if matches!(i.ty, Type::Void) {
                        self.err(
                            Diagnostic::new(Code::TypeMismatch, i.span, "this has no value")
                                .label("cannot be in a tuple"),
                        );
                        return poison(span);
                    }
                }
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                if ty.size() > MAX_VALUE {
                    let d = Diagnostic::new(
                        Code::StackExhausted,
                        span,
                        format!("this tuple takes {} bytes", ty.size()),
                    )
                    .label(format!(
                        "values are built on the stack and may take at most {MAX_VALUE} bytes"
                    ));
                    self.err(d);
                    return poison(span);
                }
                TExpr {
                    kind: TKind::Tuple(items),
                    ty,
                    span,
                }
            }
            ExprKind::Cast { ty, expr } => {
                let x = self.expr(expr);
                let Some(t) = super::types::IntTy::from_name(&ty.name) else {
                    self.err(
                        Diagnostic::new(
                            Code::BadCast,
                            ty.span,
                            format!("unknown type `{}`", ty.name),
                        )
                        .label("not a type"),
                    );
                    return poison(span);
                };
                if !x.ty.is_scalar() {
                    let d = Diagnostic::new(
                        Code::BadCast,
                        expr.span,
                        format!("cannot cast {} to {}", x.ty, ty.name),
                    )
                    .label("only integers and bools can be cast");
                    self.err(d);
                    return poison(span);
                }
                let t2 = Type::Int(t);
                match x.constant() {
                    Some(v) => konst(fold::cast(v, t.bytes, t.signed), t2, span),
                    None => TExpr {
                        kind: TKind::Cast(t, Box::new(x)),
                        ty: t2,
                        span,
                    },
                }
            }
        }
    }

    /// Require a scalar for a condition.
    pub(crate) fn truthy(&mut self, e: TExpr, what: &str) -> TExpr {
        if e.ty.is_scalar() {
            return e;
        }
        let d = Diagnostic::new(
            Code::TypeMismatch,
            e.span,
            format!("{what} must be an integer or bool, not {}", e.ty),
        )
        .label(format!("this is {}", e.ty));
        self.err(d);
        poison(e.span)
    }

    fn unary(&mut self, op: UnOp, x: TExpr, span: Span) -> TExpr {
        if !x.ty.is_scalar() {
            let d = Diagnostic::new(
                Code::TypeMismatch,
                x.span,
                format!("`{}` needs an integer, not {}", op.symbol(), x.ty),
            )
            .label(format!("this is {}", x.ty));
            self.err(d);
            return poison(span);
        }
        let ty = match op {
            UnOp::Not => Type::Bool,
            UnOp::Neg => Type::Int(IntTy::I64),
            UnOp::BitNot => Type::Int(IntTy {
                signed: x.ty.signed(),
                bytes: 8,
                meaning: Meaning::Number,
            }),
        };
        if x.ty == Type::Error {
            return if self.infer {
                konst(0, ty, span)
            } else {
                poison(span)
            };
        }
        match x.constant() {
            Some(v) => konst(fold::unary(op, v), ty, span),
            None => TExpr {
                kind: TKind::Unary(op, Box::new(x)),
                ty,
                span,
            },
        }
    }

    /// Type (and fold) `l op r`.
    pub(crate) fn binary(&mut self, op: BinOp, l: TExpr, r: TExpr, span: Span) -> TExpr {
        if l.ty == Type::Error || r.ty == Type::Error {
            // While inferring, an operand of unknown type (a map not typed
            // yet) still gives the result its type; afterwards it was an
            // error, already reported.
            if self.infer {
                let ty = if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
                    Type::Bool
                } else {
                    Type::Int(IntTy::U64)
                };
                return konst(0, ty, span);
            }
            return poison(span);
        }
        if let (Type::Str(_), Type::Str(_)) = (&l.ty, &r.ty)
            && matches!(op, BinOp::Eq | BinOp::Ne)
        {
            let eq = op == BinOp::Eq;
            if let (TKind::Str(a), TKind::Str(b)) = (&l.kind, &r.kind) {
                return konst(u64::from((a == b) == eq), Type::Bool, span);
            }
            return TExpr {
                kind: TKind::StrEq(eq, Box::new(l), Box::new(r)),
                ty: Type::Bool,
                span,
            };
        }
        for side in [&l, &r] {
            if !side.ty.is_scalar() {
                let other = if std::ptr::eq(side, &l) { &r } else { &l };
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    side.span,
                    format!("`{}` cannot take {}", op.symbol(), side.ty),
                )
                .label(format!("this is {}", side.ty))
                .secondary(other.span, format!("this is {}", other.ty));
                if matches!(side.ty, Type::Str(_)) {
                    d = d.help("strings can only be compared with `==` and `!=` to strings");
                }
                self.err(d);
                return poison(span);
            }
        }
        if matches!(op, BinOp::And | BinOp::Or) {
            let and = op == BinOp::And;
            return match (l.constant(), r.constant()) {
                (Some(a), Some(b)) => konst(fold::binary(op, a, b, false), Type::Bool, span),
                // `0 && x` and `1 || x` decide without x.
                (Some(a), None) if (a != 0) != and => konst(u64::from(!and), Type::Bool, span),
                _ => TExpr {
                    kind: TKind::Logical(and, Box::new(l), Box::new(r)),
                    ty: Type::Bool,
                    span,
                },
            };
        }
        let signed = Type::arith_signed(&l.ty, &r.ty);
        let ty = if op.is_comparison() {
            Type::Bool
        } else {
            Type::Int(IntTy {
                signed,
                bytes: 8,
                meaning: Meaning::Number,
            })
        };
        match (l.constant(), r.constant()) {
            (Some(a), Some(b)) => konst(fold::binary(op, a, b, signed), ty, span),
            _ => TExpr {
                kind: TKind::Binary(op, Box::new(l), Box::new(r)),
                ty,
                span,
            },
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> TExpr {
        let field = |c: &mut Checker, f: &'static str| c.header_field(f, span);
        match name {
            "task" | "pid" => field(self, "task"),
            "tid" => field(self, "thread"),
            "cpu" => field(self, "cpu"),
            "nsecs" => field(self, "timestamp_ns"),
            "comm" => TExpr {
                kind: TKind::Comm,
                ty: Type::Str(16),
                span,
            },
            "probe" => {
                let n = self.points.iter().map(|p| p.name.len()).max().unwrap_or(0) + 1;
                TExpr {
                    kind: TKind::ProbeName,
                    ty: Type::Str(n as u16),
                    span,
                }
            }
            "ustack" | "kstack" => {
                self.uses_stacks = true;
                let k = if name == "ustack" {
                    StackKind::User
                } else {
                    StackKind::Kernel
                };
                TExpr {
                    kind: TKind::Stack(k),
                    ty: Type::Stack(k),
                    span,
                }
            }
            "retval" => {
                if self
                    .points
                    .iter()
                    .all(|p| p.point == AttachPoint::SyscallExit)
                {
                    return self.header_field("ret", span);
                }
                let bad: Vec<&str> = self
                    .points
                    .iter()
                    .filter(|p| p.point != AttachPoint::SyscallExit)
                    .map(|p| p.name.as_str())
                    .collect();
                let d = Diagnostic::new(
                    Code::BuiltinUnavailable,
                    span,
                    "`retval` is only available at `syscall:exit`",
                )
                .label(format!("not available at {}", bad.join(", ")));
                self.err(d);
                poison(span)
            }
            "args" => {
                let fields = self.field_names();
                let d = Diagnostic::new(Code::BadField, span, "`args` is not a value")
                    .label("read one field of it")
                    .help(format!("write `args.NAME`; the fields here are {fields}"));
                self.err(d);
                poison(span)
            }
            _ => {
                if let Some(v) = consts::lookup(name) {
                    let ty = Type::Int(IntTy {
                        signed: false,
                        bytes: 8,
                        meaning: const_meaning(name),
                    });
                    return konst(v, ty, span);
                }
                let mut d = Diagnostic::new(
                    Code::UnknownIdent,
                    span,
                    format!("unknown identifier `{name}`"),
                )
                .label("not a builtin or named constant");
                let names: Vec<&str> = BUILTINS
                    .iter()
                    .copied()
                    .chain(consts::named().map(|(n, _)| n))
                    .collect();
                if let Some(s) = suggest(name, names) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if super::calls::FUNCTIONS.contains(&name) {
                    d = d.help(format!("`{name}` is a function: write `{name}(...)`"));
                } else if !name.starts_with('$') {
                    d = d.help(format!("variables start with `$`: `${name}`"));
                }
                self.err(d);
                poison(span)
            }
        }
    }

    fn field_names(&self) -> String {
        let Some(p) = self.points.first() else {
            return "none".into();
        };
        let names: Vec<String> = p
            .point
            .fields()
            .iter()
            .filter(|f| !f.header)
            .map(|f| format!("`{}`", f.name))
            .collect();
        if names.is_empty() {
            format!("none (`{}` has no event fields)", p.name)
        } else {
            names.join(", ")
        }
    }

    /// A header field every context has (the builtins `task`, `cpu` ...).
    fn header_field(&mut self, name: &'static str, span: Span) -> TExpr {
        let ast_name = ast::Name {
            name: name.to_string(),
            span,
        };
        self.args_field(&ast_name)
    }

    /// `args.NAME`: the field must exist, with one type, at every point.
    pub(super) fn args_field(&mut self, field: &ast::Name) -> TExpr {
        let span = field.span;
        let mut found: Option<&'static fields::Field> = None;
        let mut missing = Vec::new();
        let mut conflict = false;
        for p in &self.points {
            match fields::find(p.point, &field.name) {
                Some(f) => match found {
                    Some(g) if g.ty != f.ty => conflict = true,
                    Some(_) => {}
                    None => found = Some(f),
                },
                None => missing.push(p.name.clone()),
            }
        }
        let Some(f) = found else {
            if self.points.is_empty() {
                return poison(span);
            }
            let fields = self.field_names();
            let first = self.points[0].name.clone();
            let mut d = Diagnostic::new(
                Code::UnknownField,
                span,
                format!("`{first}` has no field `{}`", field.name),
            )
            .label("no such field");
            let names: Vec<&str> = self.points[0]
                .point
                .fields()
                .iter()
                .map(|f| f.name)
                .collect();
            if let Some(s) = suggest(&field.name, names) {
                d = d.help(format!("did you mean `args.{s}`?"));
            }
            d = d.help(format!("the fields of `{first}` are {fields}"));
            self.err(d);
            return poison(span);
        };
        if !missing.is_empty() || conflict {
            let msg = if conflict {
                format!(
                    "`args.{}` has different types in the probes of this list",
                    field.name
                )
            } else {
                format!("`args.{}` is missing in {}", field.name, missing.join(", "))
            };
            let d = Diagnostic::new(Code::FieldNotInAllProbes, span, msg)
                .label("not available at every probe of the list")
                .help("split the probe list, or filter it to the probes that have this field");
            self.err(d);
            return poison(span);
        }
        TExpr {
            kind: TKind::Field(f.name),
            ty: IntTy::of_field(f.ty, f.meaning),
            span,
        }
    }

    fn tuple_get(&mut self, base: TExpr, field: &ast::Name, span: Span) -> TExpr {
        let Type::Tuple(items) = &base.ty else {
            if base.ty != Type::Error {
                let d = Diagnostic::new(
                    Code::BadField,
                    field.span,
                    format!("{} has no fields", base.ty),
                )
                .label(format!("`.{}` needs a tuple (or `args`)", field.name));
                self.err(d);
            }
            return poison(span);
        };
        match field.name.parse::<usize>() {
            Ok(i) if i < items.len() => {
                let ty = items[i].clone();
                if let TKind::Tuple(elems) = base.kind {
                    // A literal tuple: take the element directly.
                    if let Some(e) = elems.into_iter().nth(i) {
                        return e;
                    }
                    return poison(span);
                }
                TExpr {
                    kind: TKind::TupleGet(Box::new(base), i),
                    ty,
                    span,
                }
            }
            _ => {
                let d = Diagnostic::new(
                    Code::BadField,
                    field.span,
                    format!("{} has no element `{}`", base.ty, field.name),
                )
                .label(format!(
                    "the elements are .0 to .{}",
                    items.len().saturating_sub(1)
                ));
                self.err(d);
                poison(span)
            }
        }
    }
}

impl Type {
    /// Scalars as integers (bool as a 1-byte unsigned), for unifying
    /// ternary branches.
    fn int_or_u64(&self) -> Type {
        match self {
            Type::Error => Type::Error,
            t => Type::Int(t.int()),
        }
    }
}
