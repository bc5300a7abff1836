//! Stage 2: resolve, type and fold the syntax tree into a [`Checked`]
//! program, or explain why not.
//!
//! Maps are global and may be used before the statement that gives them a
//! type (an `END` probe printing a map written later in the file), so
//! checking runs in two phases over the whole script:
//!
//! 1. **Infer** (repeated until nothing changes, at most a few times):
//!    collect the key and value types of every map and the type of every
//!    `$variable` by unifying all assignments. Nothing is reported.
//! 2. **Check**: walk again with those types fixed, report every use that
//!    does not fit (pointing at the use that fixed the type), and build the
//!    typed IR with constants folded and dead branches dropped.
//!
//! Then [`lints`] adds the warnings.

pub mod fold;
pub mod ir;
pub mod probes;
pub mod types;

mod calls;
mod expr;
mod lints;

use std::collections::HashMap;

use capscope_bytecode::object::FormatSpec;

use crate::ast::{self, Span, StmtKind, Target};
use crate::diag::{Code, Diagnostic};
use ir::{CProbe, Checked, MapId, MapInfo, Point, TExpr, TKind, TStmt, TStmtKind, VarId, VarInfo};
use types::{IntTy, Type, ValueKind};

/// Most iterations of a `for` loop, and of nested loops multiplied.
pub const MAX_LOOP: i64 = 256;
/// Most statement copies nested unrolling may make.
pub const MAX_UNROLL: u64 = 4096;

/// Check a parsed program. Returns the checked program when there is no
/// error, and every diagnostic (errors and warnings) either way.
pub fn check(program: &ast::Program) -> (Option<Checked>, Vec<Diagnostic>) {
    let mut c = Checker::default();
    // Phase 1: infer types until they stop changing. Each round can only
    // make types more defined or wider, so this converges quickly; the cap
    // bounds pathological chains (`@a = @b; @b = @c; ...`).
    for _ in 0..4 {
        let before = c.snapshot();
        c.run(program, true);
        if c.snapshot() == before {
            break;
        }
    }
    // Whatever inference could not pin down (a map only ever assigned from
    // itself, `@n = @n + 1`) is a u64, the type of a missing map value.
    c.default_unknown_types();
    // Phase 2: check with the inferred types fixed.
    let probes = c.run(program, false);
    lints::lint(&mut c, &probes);
    let errors = c.diags.iter().any(Diagnostic::is_error);
    let mut diags = std::mem::take(&mut c.diags);
    diags.sort_by_key(|d| (d.primary.span.start, d.code.as_str()));
    if errors {
        return (None, diags);
    }
    let maps = c
        .maps
        .iter()
        .map(|m| MapInfo {
            name: m.name.clone(),
            key: m.key.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
            value: match &m.value {
                Some((ValueKind::Plain(Type::Error), _)) | None => {
                    ValueKind::Plain(Type::Int(IntTy::U64))
                }
                Some((v, _)) => v.clone(),
            },
            span: m.span,
            print_at_end: !m.use_.printed,
        })
        .collect();
    let checked = Checked {
        probes,
        maps,
        formats: c.formats,
        uses_stacks: c.uses_stacks,
        uses_ringbuf: c.uses_ringbuf,
    };
    (Some(checked), diags)
}

/// How a map is used, for the lints.
#[derive(Clone, Debug, Default, PartialEq)]
struct MapUse {
    written: bool,
    read: bool,
    printed: bool,
    deleted: bool,
    cleared: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct MapState {
    name: String,
    span: Span,
    /// Keyed (`@m[k]`) or not (`@m`), and where that was decided.
    keyed: Option<(bool, Span)>,
    key: Option<(Vec<Type>, Span)>,
    value: Option<(ValueKind, Span)>,
    use_: MapUse,
}

#[derive(Clone, Debug, PartialEq)]
struct VarState {
    name: String,
    ty: Option<Type>,
    first: Span,
    /// Assigned textually before the current point (phase 2).
    assigned: bool,
    read: bool,
    loop_var: bool,
}

#[derive(Default)]
pub(crate) struct Checker {
    infer: bool,
    diags: Vec<Diagnostic>,
    maps: Vec<MapState>,
    map_index: HashMap<String, usize>,
    formats: Vec<FormatSpec>,
    uses_stacks: bool,
    uses_ringbuf: bool,
    /// Per probe, the variables phase 1 found.
    var_seed: Vec<Vec<VarState>>,
    // The probe being checked.
    probe_idx: usize,
    points: Vec<Point>,
    vars: Vec<VarState>,
    var_index: HashMap<String, usize>,
    unroll: u64,
}

impl Checker {
    fn snapshot(&self) -> (Vec<MapState>, Vec<Vec<VarState>>) {
        (self.maps.clone(), self.var_seed.clone())
    }

    fn default_unknown_types(&mut self) {
        for m in &mut self.maps {
            if let Some((k, _)) = &mut m.key {
                k.iter_mut().for_each(Type::default_unknown);
            }
            if let Some((ValueKind::Plain(t), _)) = &mut m.value {
                t.default_unknown();
            }
        }
        for v in self.var_seed.iter_mut().flatten() {
            if let Some(t) = &mut v.ty {
                t.default_unknown();
            }
        }
    }

    /// Report, unless inferring.
    pub(crate) fn err(&mut self, d: Diagnostic) {
        if !self.infer {
            self.diags.push(d);
        }
    }

    fn run(&mut self, program: &ast::Program, infer: bool) -> Vec<CProbe> {
        self.infer = infer;
        self.formats.clear();
        self.uses_stacks = false;
        self.uses_ringbuf = false;
        for m in &mut self.maps {
            m.use_ = MapUse::default();
        }
        let mut out = Vec::new();
        for (i, probe) in program.probes.iter().enumerate() {
            self.probe_idx = i;
            if let Some(p) = self.probe(probe) {
                out.push(p);
            }
        }
        out
    }

    fn probe(&mut self, probe: &ast::Probe) -> Option<CProbe> {
        let mut points: Vec<Point> = Vec::new();
        let mut ok = true;
        for spec in &probe.specs {
            match probes::resolve(spec) {
                Ok(ps) => {
                    for p in ps {
                        let dup = points.iter().any(|q| {
                            q.point == p.point && q.period_ns == p.period_ns && q.filter == p.filter
                        });
                        if !dup {
                            points.push(p);
                        }
                    }
                }
                Err(d) => {
                    ok = false;
                    self.err(d);
                }
            }
        }
        self.points = points;
        // Loop variables are made afresh by each walk of their loop.
        self.vars = self
            .var_seed
            .get(self.probe_idx)
            .map(|v| v.iter().filter(|v| !v.loop_var).cloned().collect())
            .unwrap_or_default();
        self.var_index = self
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.loop_var)
            .map(|(i, v)| (v.name.clone(), i))
            .collect();
        for v in &mut self.vars {
            v.assigned = false;
            v.read = false;
        }
        self.unroll = 1;
        let predicate = probe.predicate.as_ref().map(|p| {
            let e = self.expr(p);
            self.truthy(e, "a predicate")
        });
        let body = self.block(&probe.body);
        // Keep what phase 1 learnt about variables for phase 2.
        if self.var_seed.len() <= self.probe_idx {
            self.var_seed.resize(self.probe_idx + 1, Vec::new());
        }
        if self.infer {
            self.var_seed[self.probe_idx] = self.vars.clone();
        }
        if !ok || self.points.is_empty() {
            return None;
        }
        let vars = self
            .vars
            .iter()
            .map(|v| VarInfo {
                name: v.name.clone(),
                ty: match &v.ty {
                    Some(Type::Error) | None => Type::Int(IntTy::U64),
                    Some(t) => t.clone(),
                },
                loop_var: v.loop_var,
            })
            .collect();
        if !self.infer {
            lints::probe_vars(self, probe);
        }
        Some(CProbe {
            points: std::mem::take(&mut self.points),
            predicate,
            body,
            vars,
            span: probe.span,
        })
    }

    fn block(&mut self, block: &ast::Block) -> Vec<TStmt> {
        let mut out = Vec::new();
        let mut exit: Option<Span> = None;
        let mut dead: Option<Span> = None;
        for s in &block.stmts {
            let stmts = self.stmt(s);
            if exit.is_some() {
                // Dead statements are still checked, so their errors show.
                dead = Some(dead.map_or(s.span, |d| d.to(s.span)));
                continue;
            }
            if stmts.iter().any(|t| t.kind == TStmtKind::Exit) {
                exit = Some(s.span);
            }
            out.extend(stmts);
        }
        if let (Some(exit), Some(dead)) = (exit, dead) {
            let d = Diagnostic::new(Code::Unreachable, dead, "unreachable statements")
                .label("these never run")
                .secondary(exit, "because `exit()` ends the probe here");
            self.err(d);
        }
        out
    }

    /// Check one statement; an `if` with a constant condition becomes the
    /// statements of its taken branch.
    fn stmt(&mut self, s: &ast::Stmt) -> Vec<TStmt> {
        let span = s.span;
        let one = |kind| vec![TStmt { kind, span }];
        match &s.kind {
            StmtKind::Error => Vec::new(),
            StmtKind::Expr(e) => self.call_stmt(e).map_or_else(Vec::new, one),
            StmtKind::Assign { target, op, value } => self
                .assign(target, *op, value, span)
                .map_or_else(Vec::new, one),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                let c = self.truthy(c, "an `if` condition");
                let t = self.block(then);
                let o = otherwise
                    .as_ref()
                    .map(|b| self.block(b))
                    .unwrap_or_default();
                if let (Some(v), false) = (c.constant(), c.ty == Type::Error) {
                    let d = Diagnostic::new(
                        Code::ConditionConstant,
                        cond.span,
                        format!("this condition is always {}", v != 0),
                    )
                    .label("constant");
                    self.err(d);
                    return if v != 0 { t } else { o };
                }
                one(TStmtKind::If(c, t, o))
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => self
                .for_loop(var, start, end, body)
                .map_or_else(Vec::new, one),
        }
    }

    fn for_loop(
        &mut self,
        var: &ast::Name,
        start: &ast::Expr,
        end: &ast::Expr,
        body: &ast::Block,
    ) -> Option<TStmtKind> {
        let s = self.expr(start);
        let e = self.expr(end);
        let mut bounds = None;
        match (s.constant(), e.constant()) {
            (Some(a), Some(b)) => {
                let (a, b) = (a as i64, b as i64);
                let n = b.checked_sub(a).unwrap_or(i64::MAX);
                if n <= 0 || n > MAX_LOOP {
                    self.err(
                        Diagnostic::new(
                            Code::BadLoopRange,
                            start.span.to(end.span),
                            format!("this range has {} iterations", n.max(0)),
                        )
                        .label(format!("a loop runs 1 to {MAX_LOOP} times")),
                    );
                } else if self.unroll.saturating_mul(n as u64) > MAX_UNROLL {
                    self.err(
                        Diagnostic::new(
                            Code::BadLoopRange,
                            start.span.to(end.span),
                            "nested loops run too often",
                        )
                        .label(format!(
                            "nested loops may run at most {MAX_UNROLL} times in all"
                        )),
                    );
                } else {
                    bounds = Some((a, b));
                }
            }
            _ => {
                for (x, ast) in [(&s, start), (&e, end)] {
                    if x.constant().is_none() && x.ty != Type::Error {
                        self.err(
                            Diagnostic::new(
                                Code::NotConstant,
                                ast.span,
                                "loop bounds must be constants",
                            )
                            .label("not a constant")
                            .help(
                                "loops are unrolled, so their length must be known when compiling",
                            ),
                        );
                    }
                }
            }
        }
        let (a, b) = bounds.unwrap_or((0, 1));
        let ty = Type::Int(IntTy::I64);
        let id = self.vars.len();
        self.vars.push(VarState {
            name: var.name.clone(),
            ty: Some(ty),
            first: var.span,
            assigned: true,
            read: false,
            loop_var: true,
        });
        let shadowed = self.var_index.insert(var.name.clone(), id);
        let saved = self.unroll;
        self.unroll = self.unroll.saturating_mul((b - a).max(1) as u64);
        let body = self.block(body);
        self.unroll = saved;
        match shadowed {
            Some(old) => self.var_index.insert(var.name.clone(), old),
            None => self.var_index.remove(&var.name),
        };
        bounds.map(|(start, end)| TStmtKind::For {
            var: VarId(id as u32),
            start,
            end,
            body,
        })
    }

    fn assign(
        &mut self,
        target: &Target,
        op: Option<ast::BinOp>,
        value: &ast::Expr,
        span: Span,
    ) -> Option<TStmtKind> {
        match target {
            Target::Var(name) => {
                let v = if op.is_none() {
                    if self.agg_call(value).is_some() {
                        let d = Diagnostic::new(
                            Code::AggregationMisuse,
                            value.span,
                            "aggregations are stored in maps, not variables",
                        )
                        .label("this needs a map")
                        .help(format!(
                            "write `@{}` instead of `{}`",
                            &name.name[1..],
                            name.name
                        ));
                        self.err(d);
                        return None;
                    }
                    self.expr(value)
                } else {
                    let cur = self.read_var(name.name.as_str(), name.span);
                    let rhs = self.expr(value);
                    self.binary(op.unwrap_or(ast::BinOp::Add), cur, rhs, span)
                };
                let id = self.write_var(name, &v)?;
                Some(TStmtKind::SetVar(id, v))
            }
            Target::Map(m) => {
                if op.is_none()
                    && let Some((func, args)) = self.agg_call(value)
                {
                    return self.aggregate(m, func, args, value.span);
                }
                let (id, key) = self.map_key(m)?;
                let v = match op {
                    None => self.expr(value),
                    Some(op) => {
                        let cur = self.map_read(id, key.clone(), m.span);
                        let rhs = self.expr(value);
                        self.binary(op, cur, rhs, span)
                    }
                };
                self.map_value(id, ValueKind::Plain(v.ty.clone()), value.span)?;
                self.maps[id.0 as usize].use_.written = true;
                Some(TStmtKind::MapStore {
                    map: id,
                    key,
                    value: v,
                })
            }
        }
    }

    // ----- variables -----

    fn write_var(&mut self, name: &ast::Name, v: &TExpr) -> Option<VarId> {
        if matches!(v.ty, Type::Void) {
            self.err(
                Diagnostic::new(Code::TypeMismatch, v.span, "this has no value")
                    .label("cannot be assigned"),
            );
            return None;
        }
        let id = match self.var_index.get(&name.name) {
            Some(&i) => i,
            None => {
                self.vars.push(VarState {
                    name: name.name.clone(),
                    ty: None,
                    first: name.span,
                    assigned: false,
                    read: false,
                    loop_var: false,
                });
                let i = self.vars.len() - 1;
                self.var_index.insert(name.name.clone(), i);
                i
            }
        };
        let state = &self.vars[id];
        if state.loop_var {
            let d = Diagnostic::new(
                Code::LoopVarAssigned,
                name.span,
                format!("cannot assign to `{}`", name.name),
            )
            .label("loop variables are read-only")
            .secondary(state.first, "the loop defines it here");
            self.err(d);
            return None;
        }
        let first = state.first;
        match &state.ty {
            None => self.vars[id].ty = Some(v.ty.clone()),
            Some(t) if self.infer => {
                if let Some(u) = t.unify(&v.ty) {
                    self.vars[id].ty = Some(u);
                }
            }
            Some(t) => {
                if !v.ty.fits(t) {
                    let d = Diagnostic::new(
                        Code::VarTypeMismatch,
                        v.span,
                        format!("`{}` holds {t}, not {}", name.name, v.ty),
                    )
                    .label(format!("this is {}", v.ty))
                    .secondary(first, "first assigned here")
                    .help("use another variable for a value of another type");
                    self.err(d);
                }
            }
        }
        self.vars[id].assigned = true;
        Some(VarId(id as u32))
    }

    fn read_var(&mut self, name: &str, span: Span) -> TExpr {
        let Some(&id) = self.var_index.get(name) else {
            let d = Diagnostic::new(
                Code::VarBeforeAssign,
                span,
                format!("`{name}` is never assigned"),
            )
            .label("read here")
            .help(format!("assign it first: `{name} = ...;`"));
            self.err(d);
            return TExpr {
                kind: TKind::Const(0),
                ty: Type::Error,
                span,
            };
        };
        let v = &mut self.vars[id];
        v.read = true;
        let ty = v.ty.clone().unwrap_or(Type::Error);
        if !v.assigned {
            let first = v.first;
            let d = Diagnostic::new(
                Code::VarBeforeAssign,
                span,
                format!("`{name}` is read before it is assigned"),
            )
            .label("read here")
            .secondary(first, "assigned later here");
            self.err(d);
        }
        TExpr {
            kind: TKind::Var(VarId(id as u32)),
            ty,
            span,
        }
    }

    // ----- maps -----

    fn map_id(&mut self, name: &ast::Name) -> MapId {
        if let Some(&i) = self.map_index.get(&name.name) {
            return MapId(i as u32);
        }
        self.maps.push(MapState {
            name: name.name.clone(),
            span: name.span,
            keyed: None,
            key: None,
            value: None,
            use_: MapUse::default(),
        });
        let i = self.maps.len() - 1;
        self.map_index.insert(name.name.clone(), i);
        MapId(i as u32)
    }

    /// Resolve `@m[keys]` (or `@m`): the map and its typed key fields.
    fn map_key(&mut self, m: &ast::MapRef) -> Option<(MapId, Vec<TExpr>)> {
        let id = self.map_id(&m.name);
        let keys: Vec<TExpr> = m.keys.iter().flatten().map(|k| self.expr(k)).collect();
        let keyed = m.keys.is_some();
        let idx = id.0 as usize;
        match self.maps[idx].keyed {
            None => self.maps[idx].keyed = Some((keyed, m.span)),
            Some((k, first)) if k != keyed => {
                let d = Diagnostic::new(
                    Code::MapKeyUsage,
                    m.span,
                    format!(
                        "`{}` is used {} keys here but {} elsewhere",
                        m.name.name,
                        if keyed { "with" } else { "without" },
                        if k { "with" } else { "without" }
                    ),
                )
                .label("here")
                .secondary(first, "first used like this");
                self.err(d);
                return None;
            }
            Some(_) => {}
        }
        let mut ok = true;
        for k in &keys {
            if matches!(k.ty, Type::Void) {
                self.err(
                    Diagnostic::new(Code::TypeMismatch, k.span, "this has no value")
                        .label("cannot be a key"),
                );
                ok = false;
            }
        }
        let types: Vec<Type> = keys.iter().map(|k| k.ty.clone()).collect();
        let span = m
            .keys
            .as_ref()
            .and_then(|k| Some(k.first()?.span.to(k.last()?.span)))
            .unwrap_or(m.span);
        let state = &self.maps[idx];
        match &state.key {
            None => self.maps[idx].key = Some((types, span)),
            Some((known, first)) => {
                let first = *first;
                let unified = (known.len() == types.len())
                    .then(|| {
                        known
                            .iter()
                            .zip(&types)
                            .map(|(a, b)| a.unify(b))
                            .collect::<Option<Vec<_>>>()
                    })
                    .flatten();
                if self.infer {
                    if let Some(u) = unified {
                        self.maps[idx].key = Some((u, first));
                    }
                } else {
                    let fits = known.len() == types.len()
                        && types.iter().zip(known).all(|(t, k)| t.fits(k));
                    if !fits {
                        let known = tuple_str(known);
                        let d = Diagnostic::new(
                            Code::MapKeyMismatch,
                            span,
                            format!(
                                "`{}` is keyed by {known}, not {}",
                                m.name.name,
                                tuple_str(&types)
                            ),
                        )
                        .label(format!("this key is {}", tuple_str(&types)))
                        .secondary(first, format!("the key type {known} comes from here"))
                        .help("a map has one key type across all its uses");
                        self.err(d);
                        ok = false;
                    }
                }
            }
        }
        ok.then_some((id, keys))
    }

    /// Record (phase 1) or check (phase 2) the value kind of a map.
    fn map_value(&mut self, id: MapId, v: ValueKind, span: Span) -> Option<()> {
        let idx = id.0 as usize;
        if matches!(v, ValueKind::Plain(Type::Void)) {
            self.err(
                Diagnostic::new(Code::TypeMismatch, span, "this has no value")
                    .label("cannot be stored"),
            );
            return None;
        }
        let state = &self.maps[idx];
        match &state.value {
            None => self.maps[idx].value = Some((v, span)),
            Some((known, first)) => {
                let first = *first;
                let unified = match (known, &v) {
                    (ValueKind::Plain(a), ValueKind::Plain(b)) => a.unify(b).map(ValueKind::Plain),
                    (a, b) if a == b => Some(a.clone()),
                    _ => None,
                };
                if self.infer {
                    if let Some(u) = unified {
                        self.maps[idx].value = Some((u, first));
                    }
                } else {
                    let fits = match (known, &v) {
                        (ValueKind::Plain(k), ValueKind::Plain(t)) => t.fits(k),
                        (a, b) => a == b,
                    };
                    if !fits {
                        let name = state.name.clone();
                        let d = Diagnostic::new(
                            Code::MapValueMismatch,
                            span,
                            format!("`{name}` holds {known}, not {v}"),
                        )
                        .label(format!("this is {v}"))
                        .secondary(first, format!("{known} comes from here"))
                        .help("a map has one value type across all its uses");
                        self.err(d);
                        return None;
                    }
                }
            }
        }
        Some(())
    }

    /// A map element read: missing keys read as zero.
    fn map_read(&mut self, id: MapId, key: Vec<TExpr>, span: Span) -> TExpr {
        let idx = id.0 as usize;
        self.maps[idx].use_.read = true;
        let ty = match &self.maps[idx].value {
            Some((ValueKind::Plain(t), _)) => t.clone(),
            Some((ValueKind::Agg(a), first)) => {
                let (a, first) = (*a, *first);
                let name = self.maps[idx].name.clone();
                let d = Diagnostic::new(
                    Code::AggregationRead,
                    span,
                    format!("`{name}` holds {a} and cannot be read in a probe"),
                )
                .label("read here")
                .secondary(first, "aggregated here")
                .note("aggregations keep one value per CPU; only the host combines them")
                .help("keep a plain map next to it if a probe needs the value");
                self.err(d);
                Type::Error
            }
            // Never written: reads are 0 (W002 says so), typed u64.
            None if self.infer => Type::Error,
            None => Type::Int(IntTy::U64),
        };
        TExpr {
            kind: TKind::MapRead { map: id, key },
            ty,
            span,
        }
    }
}

fn tuple_str(types: &[Type]) -> String {
    match types {
        [] => "nothing".into(),
        [t] => t.to_string(),
        _ => Type::Tuple(types.to_vec()).to_string(),
    }
}
