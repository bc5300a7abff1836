//! Function calls: aggregations, map operations, `printf` and `exit`.

use capscope_bytecode::object::{Conversion, FormatArg, FormatSpec, limits};

use super::Checker;
use super::expr::poison;
use super::ir::{MapAction, TExpr, TStmtKind};
use super::types::{AggKind, Type, ValueKind};
use crate::ast::{self, ExprKind, Span};
use crate::diag::{Code, Diagnostic, suggest};

/// Every function, for suggestions.
pub(super) const FUNCTIONS: &[&str] = &[
    "count", "sum", "min", "max", "avg", "stats", "hist", "lhist", "delete", "clear", "zero",
    "print", "printf", "exit",
];

const AGGREGATIONS: &[&str] = &[
    "count", "sum", "min", "max", "avg", "stats", "hist", "lhist",
];

/// Largest printf record, header included.
pub const MAX_RECORD: u32 = 256;

impl Checker {
    /// If `e` is an aggregation call, its name and arguments.
    pub(super) fn agg_call<'a>(
        &self,
        e: &'a ast::Expr,
    ) -> Option<(&'a ast::Name, &'a [ast::Expr])> {
        match &e.kind {
            ExprKind::Call { func, args } if AGGREGATIONS.contains(&func.name.as_str()) => {
                Some((func, args.as_slice()))
            }
            _ => None,
        }
    }

    fn arity(
        &mut self,
        func: &ast::Name,
        args: &[ast::Expr],
        want: usize,
        span: Span,
        usage: &str,
    ) -> bool {
        if args.len() == want {
            return true;
        }
        let d = Diagnostic::new(
            Code::WrongArgCount,
            span,
            format!(
                "`{}` takes {want} argument{}, not {}",
                func.name,
                if want == 1 { "" } else { "s" },
                args.len()
            ),
        )
        .label("wrong number of arguments")
        .help(format!("write `{usage}`"));
        self.err(d);
        false
    }

    /// `@m[k] = agg(args)`
    pub(super) fn aggregate(
        &mut self,
        m: &ast::MapRef,
        func: &ast::Name,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<TStmtKind> {
        let (want, usage) = match func.name.as_str() {
            "count" => (0, "count()"),
            "lhist" => (4, "lhist(value, min, max, step)"),
            f => (
                1,
                match f {
                    "sum" => "sum(value)",
                    "min" => "min(value)",
                    "max" => "max(value)",
                    "avg" => "avg(value)",
                    "stats" => "stats(value)",
                    _ => "hist(value)",
                },
            ),
        };
        let typed: Vec<TExpr> = args.iter().map(|a| self.expr(a)).collect();
        if !self.arity(func, args, want, span, usage) {
            return None;
        }
        let arg = match typed.first() {
            Some(a) => Some(self.truthy_value(a.clone(), func)?),
            None => None,
        };
        let kind = match func.name.as_str() {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "avg" => AggKind::Avg,
            "stats" => AggKind::Stats,
            "hist" => AggKind::Hist,
            _ => self.lhist(&typed[1..], &args[1..], span)?,
        };
        let (id, key) = self.map_key(m)?;
        self.map_value(id, ValueKind::Agg(kind), span)?;
        self.maps[id.0 as usize].use_.written = true;
        Some(TStmtKind::MapAgg {
            map: id,
            key,
            agg: kind,
            arg,
        })
    }

    fn truthy_value(&mut self, a: TExpr, func: &ast::Name) -> Option<TExpr> {
        if a.ty.is_scalar() {
            return Some(a);
        }
        let d = Diagnostic::new(
            Code::TypeMismatch,
            a.span,
            format!("`{}` aggregates integers, not {}", func.name, a.ty),
        )
        .label(format!("this is {}", a.ty));
        self.err(d);
        None
    }

    fn lhist(&mut self, typed: &[TExpr], args: &[ast::Expr], span: Span) -> Option<AggKind> {
        let mut vals = [0i64; 3];
        for (i, (t, a)) in typed.iter().zip(args).enumerate() {
            match t.constant() {
                Some(v) if t.ty != Type::Error => vals[i] = v as i64,
                _ => {
                    let d = Diagnostic::new(
                        Code::NotConstant,
                        a.span,
                        "`lhist` bounds must be constants",
                    )
                    .label("not a constant");
                    self.err(d);
                    return None;
                }
            }
        }
        let [min, max, step] = vals;
        let buckets = if step > 0 && max > min {
            (max as i128 - min as i128) / step as i128
        } else {
            0
        };
        if !(1..=1000).contains(&buckets) {
            let d = Diagnostic::new(
                Code::BadLhist,
                span,
                format!("`lhist(_, {min}, {max}, {step})` makes no usable buckets"),
            )
            .label("min < max, step > 0, and at most 1000 buckets")
            .help("for example `lhist(x, 0, 100, 10)` makes ten buckets of width 10");
            self.err(d);
            return None;
        }
        Some(AggKind::Lhist {
            min,
            max,
            step: step as u64,
        })
    }

    /// A call in value position: none of the functions has a value.
    pub(super) fn call_expr(&mut self, func: &ast::Name, args: &[ast::Expr], span: Span) -> TExpr {
        for a in args {
            let _ = self.expr(a);
        }
        let name = func.name.as_str();
        let d = if AGGREGATIONS.contains(&name) {
            Diagnostic::new(
                Code::AggregationMisuse,
                span,
                format!("`{name}()` can only be assigned to a map"),
            )
            .label("aggregations have no value in a probe")
            .help(format!("write `@name[keys] = {name}(...);`"))
        } else if FUNCTIONS.contains(&name) {
            Diagnostic::new(Code::TypeMismatch, span, format!("`{name}()` has no value"))
                .label("use it as a statement")
        } else {
            self.unknown_function(func)
        };
        self.err(d);
        poison(span)
    }

    fn unknown_function(&self, func: &ast::Name) -> Diagnostic {
        let mut d = Diagnostic::new(
            Code::UnknownFunction,
            func.span,
            format!("unknown function `{}`", func.name),
        )
        .label("no such function");
        d = match suggest(&func.name, FUNCTIONS.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("the functions are {}", FUNCTIONS.join(", "))),
        };
        d
    }

    /// An expression statement: a call to a function with an effect.
    pub(super) fn call_stmt(&mut self, e: &ast::Expr) -> Option<TStmtKind> {
        let ExprKind::Call { func, args } = &e.kind else {
            // A bare expression computes nothing anyone sees; check it and
            // drop it.
            let _ = self.expr(e);
            return None;
        };
        let span = e.span;
        match func.name.as_str() {
            "delete" => self.delete(func, args, span),
            "print" | "clear" | "zero" => {
                let action = match func.name.as_str() {
                    "print" => MapAction::Print,
                    "clear" => MapAction::Clear,
                    _ => MapAction::Zero,
                };
                let usage = format!("{}(@map)", func.name);
                if !self.arity(func, args, 1, span, &usage) {
                    return None;
                }
                let ExprKind::Map(m) = &args[0].kind else {
                    let _ = self.expr(&args[0]);
                    let d = Diagnostic::new(
                        Code::NotAMap,
                        args[0].span,
                        format!("`{}` takes a map", func.name),
                    )
                    .label("not a map")
                    .help(format!("write `{usage}`"));
                    self.err(d);
                    return None;
                };
                if m.keys.is_some() {
                    let d = Diagnostic::new(
                        Code::NotAMap,
                        m.span,
                        format!("`{}` works on a whole map", func.name),
                    )
                    .label("remove the key")
                    .help(format!("write `{}({})`", func.name, m.name.name));
                    self.err(d);
                    return None;
                }
                let id = self.map_id(&m.name);
                let u = &mut self.maps[id.0 as usize].use_;
                match action {
                    MapAction::Print => u.printed = true,
                    MapAction::Clear | MapAction::Zero => u.cleared = true,
                }
                self.uses_ringbuf = true;
                Some(TStmtKind::MapAction(action, id))
            }
            "printf" => self.printf(func, args, span),
            "exit" => {
                if !self.arity(func, args, 0, span, "exit()") {
                    return None;
                }
                self.uses_ringbuf = true;
                Some(TStmtKind::Exit)
            }
            name if AGGREGATIONS.contains(&name) => {
                let _ = self.call_expr(func, args, span);
                None
            }
            _ => {
                for a in args {
                    let _ = self.expr(a);
                }
                let d = self.unknown_function(func);
                self.err(d);
                None
            }
        }
    }

    /// `delete(@m[k])`, or bpftrace's `delete(@m, k)`.
    fn delete(&mut self, func: &ast::Name, args: &[ast::Expr], span: Span) -> Option<TStmtKind> {
        let not_a_map = |c: &mut Checker, a: &ast::Expr| {
            let d = Diagnostic::new(Code::NotAMap, a.span, "`delete` takes a map element")
                .label("not a map element")
                .help("write `delete(@map[key])`");
            c.err(d);
        };
        let m = match args {
            [a] => match &a.kind {
                ExprKind::Map(m) => m.clone(),
                _ => {
                    not_a_map(self, a);
                    return None;
                }
            },
            [a, keys @ ..] if !keys.is_empty() => match &a.kind {
                ExprKind::Map(m) if m.keys.is_none() => ast::MapRef {
                    name: m.name.clone(),
                    keys: Some(keys.to_vec()),
                    span: a.span.to(keys[keys.len() - 1].span),
                },
                _ => {
                    not_a_map(self, a);
                    return None;
                }
            },
            _ => {
                self.arity(func, args, 1, span, "delete(@map[key])");
                return None;
            }
        };
        let (id, key) = self.map_key(&m)?;
        self.maps[id.0 as usize].use_.deleted = true;
        Some(TStmtKind::MapDelete { map: id, key })
    }

    fn printf(&mut self, func: &ast::Name, args: &[ast::Expr], span: Span) -> Option<TStmtKind> {
        let Some((fmt, rest)) = args.split_first() else {
            self.arity(func, args, 1, span, "printf(\"format\", args...)");
            return None;
        };
        let typed: Vec<TExpr> = rest.iter().map(|a| self.expr(a)).collect();
        let ExprKind::Str(template) = &fmt.kind else {
            let d = Diagnostic::new(
                Code::BadFormat,
                fmt.span,
                "the format must be a string literal",
            )
            .label("not a string literal")
            .help("write `printf(\"%d\\n\", value)`");
            self.err(d);
            return None;
        };
        let convs = match conversions(template) {
            Ok(c) => c,
            Err(msg) => {
                let d = Diagnostic::new(Code::BadFormat, fmt.span, "invalid printf format")
                    .label(msg)
                    .help("the conversions are %d %u %x %s %p, with optional flags and width; %% prints %");
                self.err(d);
                return None;
            }
        };
        if convs.len() != typed.len() {
            let mut d = Diagnostic::new(
                Code::FormatArgCount,
                span,
                format!(
                    "the format has {} conversion{} but {} argument{} follow{}",
                    convs.len(),
                    plural(convs.len()),
                    typed.len(),
                    plural(typed.len()),
                    if typed.len() == 1 { "s" } else { "" }
                ),
            )
            .label("wrong number of arguments")
            .secondary(
                fmt.span,
                format!("{} conversion{} here", convs.len(), plural(convs.len())),
            );
            if let Some(extra) = typed.get(convs.len()) {
                d = d.secondary(extra.span, "this one has no conversion");
            }
            self.err(d);
            return None;
        }
        let mut out_args = Vec::new();
        let mut size = 8u32;
        let mut ok = true;
        for (i, (conv, arg)) in convs.iter().zip(&typed).enumerate() {
            let fits = match conv {
                Conversion::Str => matches!(arg.ty, Type::Str(_) | Type::Error),
                _ => arg.ty.is_scalar(),
            };
            if !fits {
                let want = if *conv == Conversion::Str {
                    "a string"
                } else {
                    "an integer"
                };
                let d = Diagnostic::new(
                    Code::FormatArgType,
                    arg.span,
                    format!(
                        "conversion {} (`%{}`) needs {want}, not {}",
                        i + 1,
                        conv_char(*conv),
                        arg.ty
                    ),
                )
                .label(format!("this is {}", arg.ty))
                .secondary(fmt.span, "the conversion is in this format");
                self.err(d);
                ok = false;
                continue;
            }
            let arg_size = match arg.ty {
                Type::Str(n) => u32::from(n).next_multiple_of(8),
                _ => 8,
            };
            size += arg_size;
            out_args.push(FormatArg {
                conv: *conv,
                size: arg_size,
            });
        }
        if !ok {
            return None;
        }
        if size > MAX_RECORD {
            let d = Diagnostic::new(
                Code::RecordTooLarge,
                span,
                format!("this printf record takes {size} bytes"),
            )
            .label(format!("at most {MAX_RECORD} bytes fit in a record"))
            .help("print fewer or shorter strings per printf");
            self.err(d);
            return None;
        }
        let spec = FormatSpec {
            template: template.clone(),
            args: out_args,
        };
        let format = match self.formats.iter().position(|f| *f == spec) {
            Some(i) => i,
            None => {
                if self.formats.len() >= limits::MAX_FORMATS {
                    let d = Diagnostic::new(Code::TooManyFormats, span, "too many printf formats")
                        .label(format!(
                            "an object holds at most {} formats",
                            limits::MAX_FORMATS
                        ));
                    self.err(d);
                    return None;
                }
                self.formats.push(spec);
                self.formats.len() - 1
            }
        };
        self.uses_ringbuf = true;
        Some(TStmtKind::Printf {
            format: format as u32,
            args: typed,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn conv_char(c: Conversion) -> char {
    match c {
        Conversion::Signed => 'd',
        Conversion::Unsigned => 'u',
        Conversion::Hex => 'x',
        Conversion::Str => 's',
        Conversion::Pointer => 'p',
    }
}

/// The conversions of a printf template: `%` then flags `-0 +#`, a width,
/// an optional length modifier (`l`, `ll`, `h`, `hh`, `z`; all ignored, as
/// every integer is 64 bits in the record), and one of `d i u x X s p`.
pub fn conversions(template: &str) -> Result<Vec<Conversion>, String> {
    let mut out = Vec::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            continue;
        }
        while matches!(chars.peek(), Some('-' | '0' | ' ' | '+' | '#')) {
            chars.next();
        }
        while matches!(chars.peek(), Some(c) if c.is_ascii_digit()) {
            chars.next();
        }
        while matches!(chars.peek(), Some('l' | 'h' | 'z')) {
            chars.next();
        }
        let conv = match chars.next() {
            Some('d' | 'i') => Conversion::Signed,
            Some('u') => Conversion::Unsigned,
            Some('x' | 'X') => Conversion::Hex,
            Some('s') => Conversion::Str,
            Some('p') => Conversion::Pointer,
            Some(c) => return Err(format!("`%{c}` is not a conversion")),
            None => return Err("the format ends in the middle of a conversion".into()),
        };
        out.push(conv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parsing() {
        assert_eq!(
            conversions("%d %-10s %08lx %% %p %llu").unwrap(),
            vec![
                Conversion::Signed,
                Conversion::Str,
                Conversion::Hex,
                Conversion::Pointer,
                Conversion::Unsigned
            ]
        );
        assert!(conversions("%q").is_err());
        assert!(conversions("50%").is_err());
    }
}
