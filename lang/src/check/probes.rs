//! Probe names: `cap:alloc`, `cap:*`, `syscall:enter:map`, `irq:entry:32`,
//! `BEGIN`, `END`, `interval:ms:N`, `interval:s:N`.
//!
//! A name has up to three `:`-separated parts: the attach point (two parts,
//! wildcards allowed) and an optional filter. Wildcards match the ten event
//! points only; `BEGIN`, `END` and intervals are always written out. The
//! filter becomes an implicit predicate on a context field: `syscall:*`
//! filter on `nr` by syscall name (wildcards allowed) or number, `irq:*`
//! filter on `vector`.

// A rejected probe name is a whole diagnostic, built once on a cold path;
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::consts::SYSCALLS;

use super::ir::{Filter, Point};
use crate::ast::Name;
use crate::diag::{Code, Diagnostic, suggest};

/// Longest interval period: one hour.
const MAX_PERIOD_NS: u64 = 3_600_000_000_000;

/// `*` matches any run of characters (including none and `:`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    // Iterative matching with one backtrack point: linear in practice and
    // never recursive, whatever the pattern.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The event points wildcards expand over.
fn event_points() -> impl Iterator<Item = AttachPoint> {
    AttachPoint::ALL.into_iter().filter(|p| {
        !matches!(
            p,
            AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval
        )
    })
}

/// Every probe name a user may write, for "did you mean".
fn all_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = event_points().map(AttachPoint::name).collect();
    v.extend(["BEGIN", "END", "interval:ms:", "interval:s:"]);
    v
}

fn point(
    point: AttachPoint,
    period_ns: u64,
    filter: Option<Filter>,
    name: String,
    spec: &Name,
) -> Point {
    Point {
        point,
        period_ns,
        filter,
        name,
        span: spec.span,
    }
}

/// Resolve one written probe name into the points it stands for.
pub fn resolve(spec: &Name) -> Result<Vec<Point>, Diagnostic> {
    let text = spec.name.as_str();
    match text {
        "BEGIN" => return Ok(vec![point(AttachPoint::Begin, 0, None, text.into(), spec)]),
        "END" => return Ok(vec![point(AttachPoint::End, 0, None, text.into(), spec)]),
        _ => {}
    }
    let parts: Vec<&str> = text.split(':').collect();
    if parts[0] == "interval" {
        return interval(spec, &parts);
    }
    let (pattern, filter) = match parts.len() {
        1 | 2 => (text, None),
        3 => (&text[..parts[0].len() + 1 + parts[1].len()], Some(parts[2])),
        _ => {
            return Err(Diagnostic::new(
                Code::UnknownProbe,
                spec.span,
                format!("unknown probe `{text}`"),
            )
            .label("a probe name has at most three parts, as in `syscall:enter:map`"));
        }
    };
    let matched: Vec<AttachPoint> = event_points()
        .filter(|p| glob_match(pattern, p.name()))
        .collect();
    if matched.is_empty() {
        if pattern.contains('*') {
            return Err(Diagnostic::new(
                Code::WildcardMatchesNothing,
                spec.span,
                format!("`{pattern}` matches no attach point"),
            )
            .label("no probe has a name like this")
            .help("`capscope list` shows the attach points"));
        }
        let mut d = Diagnostic::new(
            Code::UnknownProbe,
            spec.span,
            format!("unknown probe `{pattern}`"),
        )
        .label("no attach point has this name");
        let names = all_names();
        if let Some(s) = suggest(pattern, names.iter().copied()) {
            d = d.help(format!("did you mean `{s}`?"));
        } else {
            d = d.help(format!("the attach points are {}", names.join(", ")));
        }
        return Err(d);
    }
    let mut out = Vec::new();
    for p in matched {
        let f = match filter {
            None | Some("*") => None,
            Some(f) => Some(filter_for(spec, p, f)?),
        };
        let name = match filter {
            None | Some("*") => p.name().to_string(),
            Some(f) => format!("{}:{f}", p.name()),
        };
        out.push(point(p, 0, f, name, spec));
    }
    Ok(out)
}

fn filter_for(spec: &Name, p: AttachPoint, f: &str) -> Result<Filter, Diagnostic> {
    match p {
        AttachPoint::SyscallEnter | AttachPoint::SyscallExit => {
            let values: Vec<u64> = match parse_number(f) {
                Some(n) => vec![n],
                None => SYSCALLS.iter().filter(|s| glob_match(f, s.name)).map(|s| s.nr).collect(),
            };
            if values.is_empty() {
                let mut d = Diagnostic::new(Code::BadFilter, spec.span, format!("no system call is named `{f}`"))
                    .label("the filter after `syscall:enter:` names a system call");
                if let Some(s) = suggest(f, SYSCALLS.iter().map(|s| s.name)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                return Err(d);
            }
            Ok(Filter { field: "nr", values })
        }
        AttachPoint::IrqEntry | AttachPoint::IrqExit => match parse_number(f) {
            Some(v) if v <= 255 => Ok(Filter { field: "vector", values: vec![v] }),
            _ => Err(Diagnostic::new(Code::BadFilter, spec.span, format!("`{f}` is not an interrupt vector"))
                .label("the filter after `irq:entry:` is a vector number, 0 to 255")),
        },
        _ => Err(Diagnostic::new(Code::BadFilter, spec.span, format!("`{}` takes no filter", p.name()))
            .label(format!("`:{f}` cannot be applied here"))
            .help("only `syscall:*:NAME` and `irq:*:VECTOR` have filters; use a predicate `/.../` instead")),
    }
}

fn parse_number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

fn interval(spec: &Name, parts: &[&str]) -> Result<Vec<Point>, Diagnostic> {
    let bad = |msg: &str| {
        Diagnostic::new(
            Code::BadInterval,
            spec.span,
            format!("invalid interval probe `{}`", spec.name),
        )
        .label(msg.to_string())
        .help("write `interval:ms:N` or `interval:s:N` with N at least 1")
    };
    let [_, unit, n] = parts else {
        return Err(bad("expected a unit and a period"));
    };
    let scale = match *unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return Err(bad("the unit is `ms` or `s`")),
    };
    let n = parse_number(n).ok_or_else(|| bad("the period is a number"))?;
    let period = n
        .checked_mul(scale)
        .filter(|&p| p > 0 && p <= MAX_PERIOD_NS);
    let period = period.ok_or_else(|| bad("the period must be between 1 ms and one hour"))?;
    Ok(vec![point(
        AttachPoint::Interval,
        period,
        None,
        spec.name.clone(),
        spec,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;

    fn r(s: &str) -> Result<Vec<Point>, Diagnostic> {
        resolve(&Name {
            name: s.into(),
            span: Span::default(),
        })
    }

    #[test]
    fn names_resolve() {
        assert_eq!(r("cap:*").unwrap().len(), 5);
        assert_eq!(r("*").unwrap().len(), 10);
        assert_eq!(r("syscall:*").unwrap().len(), 2);
        let p = r("syscall:enter:map").unwrap();
        assert_eq!(p[0].filter.as_ref().unwrap().values, vec![8]);
        assert_eq!(p[0].name, "syscall:enter:map");
        assert_eq!(
            r("irq:entry:0x20").unwrap()[0]
                .filter
                .as_ref()
                .unwrap()
                .values,
            vec![32]
        );
        assert_eq!(r("interval:s:1").unwrap()[0].period_ns, 1_000_000_000);
        assert_eq!(r("interval:ms:5").unwrap()[0].period_ns, 5_000_000);
        assert_eq!(r("syscall:enter:*").unwrap()[0].filter, None);
        assert_eq!(
            r("syscall:enter:cap_*").unwrap()[0]
                .filter
                .as_ref()
                .unwrap()
                .values,
            vec![18]
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let d = r("cap:aloc").unwrap_err();
        assert_eq!(d.code, Code::UnknownProbe);
        assert_eq!(d.help, vec!["did you mean `cap:alloc`?".to_string()]);
        assert_eq!(r("foo:*").unwrap_err().code, Code::WildcardMatchesNothing);
        assert_eq!(r("cap:alloc:3").unwrap_err().code, Code::BadFilter);
        assert_eq!(
            r("syscall:enter:mapp").unwrap_err().help,
            vec!["did you mean `map`?".to_string()]
        );
        assert_eq!(r("interval:h:1").unwrap_err().code, Code::BadInterval);
        assert_eq!(r("interval:s:0").unwrap_err().code, Code::BadInterval);
        assert_eq!(r("interval:s").unwrap_err().code, Code::BadInterval);
    }

    #[test]
    fn globs() {
        assert!(glob_match("cap:*", "cap:alloc"));
        assert!(glob_match("*:exit", "syscall:exit"));
        assert!(!glob_match("cap:*", "syscall:enter"));
        assert!(glob_match("c*p:a*c", "cap:alloc"));
        assert!(!glob_match("cap:alloc", "cap:allocx"));
        assert!(glob_match("**", ""));
    }
}
