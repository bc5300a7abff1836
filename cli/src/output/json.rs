//! `-f json`: one JSON object per line, in bpftrace's shapes.
//!
//! Every line is `{"type": T, "data": D}`:
//!
//! | type | data |
//! |---|---|
//! | `attached_probes` | `{"probes": N}` |
//! | `printf` | the formatted text |
//! | `map` | `{"@name": VALUE}` without keys, `{"@name": {"k1,k2": VALUE, ...}}` with keys |
//! | `stats` | as `map`, for `avg` and `stats` maps; a `stats` value is `{"count", "average", "total"}` |
//! | `hist` | `{"@name": [BUCKET, ...]}`, or `{"@name": {"k": [BUCKET, ...]}}`; a bucket is `{"min", "max", "count"}` with inclusive bounds, `min` missing on the open bucket below and `max` on the one above |
//! | `lost_events` | `{"map": "@name", "events": N}`: N events dropped on that map so far |
//!
//! Keys are strings as in bpftrace: the key's fields joined by `,`
//! without spaces. Values are typed: numbers are numbers (as strings when
//! a JSON double cannot hold them exactly, as bpftrace does), names of ABI
//! values are strings (`"map"`, `"KIND_GATE"`), addresses are `"0x..."`
//! strings, tuples are arrays, and a stack is an array of its symbolized
//! frames, innermost first. Inside a key, where only a string fits, a
//! stack's frames are joined with `;`.

use serde_json::{Map, Value, json};

use super::value::{Agg, Body, Bucket, MapView, Val};

/// Largest integer a JSON double holds exactly.
const EXACT: i128 = 1 << 53;

/// An integer as a JSON number, or a string when a double would round it.
fn int(n: i128) -> Value {
    if (-EXACT..=EXACT).contains(&n) {
        // In range for i64 by the bound above.
        Value::from(n as i64)
    } else {
        Value::String(n.to_string())
    }
}

/// One decoded value.
pub fn val(v: &Val) -> Value {
    match v {
        Val::Uint(n) => int((*n).into()),
        Val::Int(n) => int((*n).into()),
        Val::Hex(n) => Value::String(format!("{n:#x}")),
        Val::Bool(b) => Value::Bool(*b),
        Val::Str(s) => Value::String(s.clone()),
        Val::Sym { name, .. } => Value::String(name.clone()),
        Val::Stack(Ok(frames)) => frames
            .iter()
            .map(|f| Value::String(f.to_string()))
            .collect(),
        Val::Stack(Err(why)) => Value::String(format!("<{why}>")),
    }
}

/// One key field as a piece of a key string.
fn key_part(v: &Val) -> String {
    match v {
        Val::Stack(Ok(frames)) => frames
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(";"),
        other => match val(other) {
            Value::String(s) => s,
            v => v.to_string(),
        },
    }
}

/// A key string: the fields joined by `,`, as bpftrace's JSON keys.
pub fn key(vals: &[Val]) -> String {
    vals.iter().map(key_part).collect::<Vec<_>>().join(",")
}

fn fields(vals: &[Val]) -> Value {
    match vals {
        [one] => val(one),
        many => many.iter().map(val).collect(),
    }
}

/// A row's value.
pub fn agg(a: &Agg) -> Value {
    match a {
        Agg::Num(n) => int(*n),
        Agg::Stats {
            count,
            average,
            total,
        } => json!({"count": int((*count).into()), "average": average, "total": total}),
        Agg::Nothing => Value::Null,
        Agg::Plain(vals) => fields(vals),
        Agg::PerCpu(cpus) => cpus.iter().map(|c| fields(c)).collect(),
    }
}

fn buckets(bs: &[Bucket]) -> Value {
    bs.iter()
        .map(|b| {
            let mut o = Map::new();
            if let Some(min) = b.min {
                o.insert("min".into(), int(min));
            }
            if let Some(max) = b.max {
                o.insert("max".into(), int(max));
            }
            o.insert("count".into(), int(b.count.into()));
            Value::Object(o)
        })
        .collect()
}

/// One line for a map.
pub fn map(v: &MapView) -> Value {
    use capscope_bytecode::object::Aggregation;
    let (kind, body) = match &v.body {
        Body::Hist(groups) => {
            let body = if v.keyed {
                let mut m = Map::new();
                for g in groups {
                    m.insert(key(&g.key), buckets(&g.buckets));
                }
                Value::Object(m)
            } else {
                groups
                    .first()
                    .map_or(Value::Array(Vec::new()), |g| buckets(&g.buckets))
            };
            ("hist", body)
        }
        Body::Rows(rows) => {
            let kind = match v.aggregation {
                Aggregation::Avg | Aggregation::Stats => "stats",
                _ => "map",
            };
            let body = if v.keyed {
                let mut m = Map::new();
                for r in rows {
                    m.insert(key(&r.key), agg(&r.value));
                }
                Value::Object(m)
            } else {
                rows.first().map_or(Value::Null, |r| agg(&r.value))
            };
            (kind, body)
        }
    };
    let mut data = Map::new();
    data.insert(v.name.clone(), body);
    message(kind, Value::Object(data))
}

/// `{"type": kind, "data": data}`.
pub fn message(kind: &str, data: Value) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), Value::String(kind.into()));
    o.insert("data".into(), data);
    Value::Object(o)
}
