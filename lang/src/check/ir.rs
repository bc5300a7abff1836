//! The checked program: every name resolved, every expression typed,
//! constants folded. Lowering reads only this.

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::object::FormatSpec;

use super::types::{AggKind, IntTy, StackKind, Type, ValueKind};
use crate::ast::{BinOp, Span, UnOp};

/// Index into [`Checked::maps`] (user maps only; lowering appends its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapId(pub u32);

/// Index into [`CProbe::vars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarId(pub u32);

/// A checked script.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The probes, in source order.
    pub probes: Vec<CProbe>,
    /// The user's maps, in order of first appearance.
    pub maps: Vec<MapInfo>,
    /// printf formats, by index.
    pub formats: Vec<FormatSpec>,
    /// Some probe uses `ustack` or `kstack`.
    pub uses_stacks: bool,
    /// Some probe writes ring-buffer records (printf, print, clear, zero, exit).
    pub uses_ringbuf: bool,
}

/// One map, as all its uses agree.
#[derive(Clone, Debug)]
pub struct MapInfo {
    /// With its `@`.
    pub name: String,
    /// Key field types; empty for a map used without `[...]`.
    pub key: Vec<Type>,
    /// What the values are.
    pub value: ValueKind,
    /// Where the map is first mentioned.
    pub span: Span,
    /// Printed automatically when the probes detach (no `print()` anywhere).
    pub print_at_end: bool,
}

/// One attach point a probe runs at, after wildcard expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// The attach point.
    pub point: AttachPoint,
    /// For intervals, the period in ns; else 0.
    pub period_ns: u64,
    /// A filter suffix as an implicit predicate: `field` must equal one of
    /// `values`.
    pub filter: Option<Filter>,
    /// The program's name: the attach point plus any filter suffix.
    pub name: String,
    /// The probe name as written.
    pub span: Span,
}

/// `syscall:enter:map` keeps only events whose `nr` is `SYS_MAP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The context field compared.
    pub field: &'static str,
    /// Accepted values.
    pub values: Vec<u64>,
}

/// A checked probe: one program per point.
#[derive(Clone, Debug)]
pub struct CProbe {
    /// Where it runs.
    pub points: Vec<Point>,
    /// Early exit unless this holds.
    pub predicate: Option<TExpr>,
    /// The statements.
    pub body: Vec<TStmt>,
    /// Its `$variables` with their final types.
    pub vars: Vec<VarInfo>,
    /// The whole probe.
    pub span: Span,
}

/// A `$variable`.
#[derive(Clone, Debug)]
pub struct VarInfo {
    /// With its `$`.
    pub name: String,
    /// Its type over all assignments.
    pub ty: Type,
    /// A `for` loop variable: a constant per unrolled iteration.
    pub loop_var: bool,
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct TExpr {
    /// What it computes.
    pub kind: TKind,
    /// Its type.
    pub ty: Type,
    /// Where it was written.
    pub span: Span,
}

/// The typed expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum TKind {
    /// An integer or bool constant (the 64-bit pattern).
    Const(u64),
    /// A string constant (without the NUL; the type gives the buffer).
    Str(Vec<u8>),
    /// The `probe` builtin: the program's name, a constant per point.
    ProbeName,
    /// A context field by name; its offset depends on the point.
    Field(&'static str),
    /// The current task's name.
    Comm,
    /// A stack id from `get_stackid`.
    Stack(StackKind),
    /// A `$variable`.
    Var(VarId),
    /// A map element (missing keys read as zero).
    MapRead {
        /// The map.
        map: MapId,
        /// Its key fields.
        key: Vec<TExpr>,
    },
    /// `op x` on integers.
    Unary(UnOp, Box<TExpr>),
    /// Integer arithmetic or comparison; signed when either side is.
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    /// Short-circuit `&&` (`true`) or `||` (`false`).
    Logical(bool, Box<TExpr>, Box<TExpr>),
    /// String `==` (`true`) or `!=` (`false`).
    StrEq(bool, Box<TExpr>, Box<TExpr>),
    /// `c ? a : b`
    Ternary(Box<TExpr>, Box<TExpr>, Box<TExpr>),
    /// `(a, b, ...)`
    Tuple(Vec<TExpr>),
    /// Element `n` of a tuple.
    TupleGet(Box<TExpr>, usize),
    /// `(u32)x`
    Cast(IntTy, Box<TExpr>),
}

impl TExpr {
    /// The constant value, if this is one.
    pub fn constant(&self) -> Option<u64> {
        match self.kind {
            TKind::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// A map action the host carries out from a ring-buffer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapAction {
    /// `print(@m)`
    Print,
    /// `clear(@m)`
    Clear,
    /// `zero(@m)`
    Zero,
}

/// A typed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct TStmt {
    /// What it does.
    pub kind: TStmtKind,
    /// Where it was written.
    pub span: Span,
}

/// The typed statements.
#[derive(Clone, Debug, PartialEq)]
pub enum TStmtKind {
    /// `$x = value`
    SetVar(VarId, TExpr),
    /// `@m[key] = value`
    MapStore {
        /// The map.
        map: MapId,
        /// Key fields.
        key: Vec<TExpr>,
        /// The value.
        value: TExpr,
    },
    /// `@m[key] = agg(arg)`
    MapAgg {
        /// The map.
        map: MapId,
        /// Key fields (without the bucket).
        key: Vec<TExpr>,
        /// Which aggregation.
        agg: AggKind,
        /// Its argument (none for `count()`).
        arg: Option<TExpr>,
    },
    /// `delete(@m[key])`
    MapDelete {
        /// The map.
        map: MapId,
        /// Key fields.
        key: Vec<TExpr>,
    },
    /// `print(@m)`, `clear(@m)`, `zero(@m)`
    MapAction(MapAction, MapId),
    /// `printf(fmt, args)`
    Printf {
        /// Index into [`Checked::formats`].
        format: u32,
        /// The arguments.
        args: Vec<TExpr>,
    },
    /// `exit()`
    Exit,
    /// `if`
    If(TExpr, Vec<TStmt>, Vec<TStmt>),
    /// `for ($v : start..end)`, unrolled by lowering.
    For {
        /// The loop variable.
        var: VarId,
        /// First value.
        start: i64,
        /// One past the last.
        end: i64,
        /// The body.
        body: Vec<TStmt>,
    },
}
