//! The printers on hand-made maps: bpftrace's text layout byte for byte,
//! and JSON lines that parse with the documented fields.

use super::*;
use capscope_bytecode::abi::fields::Meaning;
use capscope_bytecode::object::{
    Aggregation, DisplayField, FormatArg, FormatSpec, MapDisplay, record as rec,
};

use crate::symbolize::{Symbolizer, Symbols};

fn snap(entries: Vec<(Vec<u8>, Vec<Vec<u8>>)>) -> MapSnapshot {
    MapSnapshot {
        name: "@m".into(),
        kind: MapKind::PerCpuHash,
        entries: entries
            .into_iter()
            .map(|(key, values)| Entry { key, values })
            .collect(),
        records: vec![],
        drops: 0,
    }
}

fn def(key: Vec<DisplayField>, value: Vec<DisplayField>, aggregation: Aggregation) -> MapDef {
    MapDef {
        name: "@m".into(),
        kind: MapKind::PerCpuHash,
        key_size: 8,
        value_size: 16,
        max_entries: 64,
        display: MapDisplay {
            key,
            value,
            aggregation,
            print_at_end: true,
        },
    }
}

fn f(format: FieldFormat, offset: u32) -> DisplayField {
    DisplayField { offset, format }
}

fn u(n: u8, off: u32) -> DisplayField {
    f(FieldFormat::Unsigned(n), off)
}

/// The value display of min, max, avg and stats: `{i64, u64}`.
fn pair() -> Vec<DisplayField> {
    vec![f(FieldFormat::Signed(8), 0), u(8, 8)]
}

fn le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Run `body` on a printer of `format` and return (stdout, stderr).
fn run(
    format: Format,
    symbols: Symbolizer,
    body: impl FnOnce(&mut Printer<'_>) -> io::Result<()>,
) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    {
        let mut p = Printer::new(format, Box::new(&mut out), Box::new(&mut err), symbols);
        body(&mut p).unwrap();
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn text(body: impl FnOnce(&mut Printer<'_>) -> io::Result<()>) -> String {
    run(Format::Text, Symbolizer::none(), body).0
}

/// Every line of JSON output, parsed; each must be an object with a
/// string `type` and a `data`.
fn json_lines(body: impl FnOnce(&mut Printer<'_>) -> io::Result<()>) -> Vec<Value> {
    let (out, _) = run(Format::Json, Symbolizer::none(), body);
    out.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert!(v["type"].is_string(), "{l}");
            assert!(v.get("data").is_some(), "{l}");
            v
        })
        .collect()
}

#[test]
fn counts_sum_over_cpus_and_sort_by_value() {
    let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
    let s = snap(vec![
        (le(1), vec![le(5), le(4)]),
        (le(2), vec![le(1), le(0)]),
    ]);
    assert_eq!(text(|p| p.map(&d, &s, None)), "@m[2]: 1\n@m[1]: 9\n\n");
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["type"], "map");
    // Keys stay in value order, as in the text.
    assert_eq!(
        serde_json::to_string(&j[0]["data"]).unwrap(),
        r#"{"@m":{"2":1,"1":9}}"#
    );
}

#[test]
fn keyless_min_ignores_cpus_that_saw_nothing() {
    let d = def(vec![], pair(), Aggregation::Min);
    let mut seen = (-3i64).to_le_bytes().to_vec();
    seen.extend(1u64.to_le_bytes());
    let s = snap(vec![(vec![0; 8], vec![vec![0; 16], seen])]);
    assert_eq!(text(|p| p.map(&d, &s, None)), "@m: -3\n\n");
    assert_eq!(json_lines(|p| p.map(&d, &s, None))[0]["data"]["@m"], -3);
}

#[test]
fn stats_and_avg() {
    let mut v = 30i64.to_le_bytes().to_vec();
    v.extend(4u64.to_le_bytes());
    let s = snap(vec![(vec![0; 8], vec![v])]);
    let d = def(vec![], pair(), Aggregation::Stats);
    assert_eq!(
        text(|p| p.map(&d, &s, None)),
        "@m: count 4, average 7, total 30\n\n"
    );
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["type"], "stats");
    assert_eq!(
        j[0]["data"]["@m"],
        json!({"count": 4, "average": 7, "total": 30})
    );
    let d = def(vec![], pair(), Aggregation::Avg);
    assert_eq!(text(|p| p.map(&d, &s, None)), "@m: 7\n\n");
    assert_eq!(json_lines(|p| p.map(&d, &s, None))[0]["type"], "stats");
}

#[test]
fn log2_histogram_is_bpftraces_table() {
    let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Hist);
    let e = |b: u64, c: u64| (le(b), vec![le(c)]);
    let s = snap(vec![e(1, 2), e(3, 4), e(12, 1)]);
    let out = text(|p| p.map(&d, &s, None));
    let at = |n: usize| "@".repeat(n);
    let expected = [
        "@m:".to_string(),
        format!("[0]                    2 |{:<52}|", at(26)),
        format!("[1]                    0 |{:<52}|", ""),
        format!("[2, 4)                 4 |{}|", at(52)),
        format!("[4, 8)                 0 |{:<52}|", ""),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert_eq!(
        lines[12],
        format!("[1K, 2K)               1 |{:<52}|", at(13))
    );
    assert_eq!(lines[13], "", "a blank line ends the map");
    assert_eq!(lines.len(), 14);
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["type"], "hist");
    let b = j[0]["data"]["@m"].as_array().unwrap();
    assert_eq!(b.len(), 12);
    assert_eq!(b[0], json!({"min": 0, "max": 0, "count": 2}));
    assert_eq!(b[2], json!({"min": 2, "max": 3, "count": 4}));
    assert_eq!(b[11], json!({"min": 1024, "max": 2047, "count": 1}));
}

#[test]
fn keyed_histograms_print_one_table_each_busiest_last() {
    // @h[vector] = hist(x): key (vector u64, bucket u64).
    let mut d = def(vec![u(8, 0), u(8, 8)], vec![u(8, 0)], Aggregation::Hist);
    d.key_size = 16;
    let e = |k: u64, b: u64, c: u64| ([le(k), le(b)].concat(), vec![le(c)]);
    let s = snap(vec![e(32, 3, 5), e(33, 0, 1), e(33, 2, 1)]);
    let out = text(|p| p.map(&d, &s, None));
    assert_eq!(
        out,
        format!(
            "@m[33]:\n(..., 0)               1 |{a}|\n[0]                    0 |{z}|\n[1]                    1 |{a}|\n\n@m[32]:\n[2, 4)                 5 |{a}|\n\n",
            a = "@".repeat(52),
            z = " ".repeat(52)
        )
    );
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["data"]["@m"]["33"][0], json!({"max": -1, "count": 1}));
    assert_eq!(
        j[0]["data"]["@m"]["32"][0],
        json!({"min": 2, "max": 3, "count": 5})
    );
}

#[test]
fn linear_histogram_open_buckets() {
    let agg = Aggregation::Lhist {
        min: 0,
        max: 100,
        step: 10,
    };
    let d = def(vec![u(8, 0)], vec![u(8, 0)], agg);
    let s = snap(vec![(le(10), vec![le(1)]), (le(11), vec![le(3)])]);
    let out = text(|p| p.map(&d, &s, None));
    assert!(out.contains("\n[90, 100)              1 |"), "{out}");
    assert!(out.contains("\n[100, ...)             3 |"), "{out}");
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["data"]["@m"][1], json!({"min": 100, "count": 3}));
}

#[test]
fn tuples_strings_and_symbols_as_keys() {
    // @x[task, comm, args.kind]: (u32, string[8], kind)
    let mut d = def(
        vec![
            u(4, 0),
            f(FieldFormat::Str(8), 4),
            f(FieldFormat::Symbol(Meaning::ObjectKind, 4), 12),
        ],
        vec![u(8, 0)],
        Aggregation::Count,
    );
    d.key_size = 16;
    let key = [
        1u32.to_le_bytes().to_vec(),
        b"foo\0\0\0\0\0".to_vec(),
        4u32.to_le_bytes().to_vec(),
    ]
    .concat();
    let s = snap(vec![(key, vec![le(2)])]);
    assert_eq!(
        text(|p| p.map(&d, &s, None)),
        "@m[1, foo, KIND_GATE]: 2\n\n"
    );
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["data"]["@m"]["1,foo,KIND_GATE"], 2);
}

#[test]
fn plain_tuple_values_and_big_numbers() {
    // @pair = (1, "one"); @big = u64::MAX (not a JSON double).
    let mut d = def(
        vec![],
        vec![u(8, 0), f(FieldFormat::Str(8), 8)],
        Aggregation::None,
    );
    d.kind = MapKind::Hash;
    let s = snap(vec![(
        vec![0; 8],
        vec![[le(1), b"one\0\0\0\0\0".to_vec()].concat()],
    )]);
    assert_eq!(text(|p| p.map(&d, &s, None)), "@m: (1, one)\n\n");
    assert_eq!(
        json_lines(|p| p.map(&d, &s, None))[0]["data"]["@m"],
        json!([1, "one"])
    );
    let d = def(vec![], vec![u(8, 0)], Aggregation::None);
    let s = snap(vec![(vec![0; 8], vec![le(u64::MAX)])]);
    assert_eq!(
        json_lines(|p| p.map(&d, &s, None))[0]["data"]["@m"],
        "18446744073709551615"
    );
}

/// A stack map holding stack 7: two frames in `f` (at 0x1000) and `g`.
fn stacks() -> MapSnapshot {
    MapSnapshot {
        name: "stacks".into(),
        kind: MapKind::StackTrace,
        entries: vec![Entry {
            key: 7u32.to_le_bytes().to_vec(),
            values: vec![[le(0x1010), le(0x2004), le(0x9999), le(0)].concat()],
        }],
        records: vec![],
        drops: 0,
    }
}

/// Symbols `f` at 0x1000 (0x100 bytes) and `g::h` at 0x2000 (0x10 bytes);
/// symbolize.rs tests the real ELF tables.
fn fake_symbols() -> Symbolizer {
    let table = Symbols::from_table(&[(0x1000, 0x100, "f"), (0x2000, 0x10, "g::h")]);
    Symbolizer::new(Some(table), None)
}

#[test]
fn stacks_print_symbolized_one_frame_per_line() {
    let st = stacks();
    // @live[owner, slot] = ustack
    let mut d = def(
        vec![u(4, 0), u(4, 4)],
        vec![f(FieldFormat::UserStack, 0)],
        Aggregation::None,
    );
    d.kind = MapKind::Hash;
    let s = snap(vec![
        (
            [1u32.to_le_bytes(), 3u32.to_le_bytes()].concat(),
            vec![le(7)],
        ),
        (
            [1u32.to_le_bytes(), 4u32.to_le_bytes()].concat(),
            vec![(-14i64).to_le_bytes().to_vec()],
        ),
    ]);
    let (out, err) = run(Format::Text, fake_symbols(), |p| p.map(&d, &s, Some(&st)));
    assert_eq!(
        out,
        "@m[1, 3]:\n        f+16\n        g::h+4\n        0x9999\n@m[1, 4]: <no stack: EFAULT>\n\n"
    );
    assert_eq!(err, "");
    let (out, _) = run(Format::Json, fake_symbols(), |p| p.map(&d, &s, Some(&st)));
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["data"]["@m"]["1,3"], json!(["f+16", "g::h+4", "0x9999"]));
    assert_eq!(j["data"]["@m"]["1,4"], "<no stack: EFAULT>");
}

#[test]
fn stacks_as_keys() {
    let st = stacks();
    // @overmaps[slot, ustack] = count()
    let mut d = def(
        vec![u(4, 0), f(FieldFormat::UserStack, 8)],
        vec![u(8, 0)],
        Aggregation::Count,
    );
    d.key_size = 16;
    let s = snap(vec![([le(20), le(7)].concat(), vec![le(1)])]);
    let (out, _) = run(Format::Text, fake_symbols(), |p| p.map(&d, &s, Some(&st)));
    assert_eq!(
        out,
        "@m[20, \n        f+16\n        g::h+4\n        0x9999\n]: 1\n\n"
    );
    let (out, _) = run(Format::Json, fake_symbols(), |p| p.map(&d, &s, Some(&st)));
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["data"]["@m"]["20,f+16;g::h+4;0x9999"], 1);
}

#[test]
fn drops_are_reported_next_to_the_data_once_per_increase() {
    let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
    let mut s = snap(vec![(le(1), vec![le(1)])]);
    s.drops = 3;
    let mut st = stacks();
    st.drops = 2;
    let (out, err) = run(Format::Text, Symbolizer::none(), |p| {
        p.map(&d, &s, Some(&st))?;
        // The same count again: already reported.
        p.map(&d, &s, Some(&st))?;
        s.drops = 5;
        p.map(&d, &s, Some(&st))
    });
    assert_eq!(out, "@m[1]: 1\n\n".repeat(3));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("WARNING: 3 updates dropped on @m: the map was full (64 entries)")
    );
    assert!(
        lines[1].starts_with("WARNING: 5 updates dropped on @m")
            && lines[1].ends_with("(2 since the last report)")
    );
    // The stack map's drops matter only to maps with stack fields.
    assert!(!err.contains("stacks"));
    let j = json_lines(|p| {
        s.drops = 3;
        p.map(&d, &s, None)
    });
    assert_eq!(
        j[1],
        json!({"type": "lost_events", "data": {"map": "@m", "events": 3}})
    );
}

#[test]
fn attached_printf_and_missed_events() {
    assert_eq!(text(|p| p.attached(1)), "Attaching 1 probe...\n");
    assert_eq!(text(|p| p.attached(3)), "Attaching 3 probes...\n");
    let j = json_lines(|p| {
        p.attached(2)?;
        p.printf("hi \"there\"\n")?;
        p.missed("cap:alloc", 4)?;
        p.missed("cap:alloc", 4)
    });
    assert_eq!(
        j[0],
        json!({"type": "attached_probes", "data": {"probes": 2}})
    );
    assert_eq!(j[1], json!({"type": "printf", "data": "hi \"there\"\n"}));
    assert_eq!(
        j[2],
        json!({"type": "lost_events", "data": {"probe": "cap:alloc", "events": 4}})
    );
    assert_eq!(j.len(), 3);
}

#[test]
fn control_characters_in_strings_are_escaped_in_text() {
    let d = def(
        vec![f(FieldFormat::Str(8), 0)],
        vec![u(8, 0)],
        Aggregation::Count,
    );
    let s = snap(vec![(b"a\x1b[2Jb\0".to_vec(), vec![le(1)])]);
    assert_eq!(text(|p| p.map(&d, &s, None)), "@m[a\\u{1b}[2Jb]: 1\n\n");
}

#[test]
fn snapshots_from_control_channel_pages() {
    let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
    let mut d16 = d.clone();
    d16.value_size = 8;
    // Two CPUs' values end to end; a short value keeps what there is.
    let s = snapshot(
        &d16,
        [(le(1), [le(2), le(3)].concat()), (le(2), vec![1])],
        2,
        4,
    );
    assert_eq!(s.entries[0].values, vec![le(2), le(3)]);
    assert_eq!(s.entries[1].values, vec![vec![1]]);
    assert_eq!(s.drops, 4);
    assert_eq!(text(|p| p.map(&d16, &s, None)), "@m[2]: 1\n@m[1]: 5\n\n");
}

#[test]
fn records_are_carried_out_in_order() {
    use capscope_bytecode::model::EventState;
    let count = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
    let rb = MapDef {
        name: "events".into(),
        kind: MapKind::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: 4096,
        display: MapDisplay::default(),
    };
    let obj = ProbeObject {
        maps: vec![count, rb],
        formats: vec![FormatSpec {
            template: "hi %u\n".into(),
            args: vec![FormatArg {
                conv: capscope_bytecode::object::Conversion::Unsigned,
                size: 8,
            }],
        }],
        ..Default::default()
    };
    assert!(is_compiled(&obj));
    // printf, print(@m), clear(@m), exit(), then a printf that is dropped.
    let records = [
        (rec::KIND_PRINTF, 16),
        (rec::KIND_PRINT_MAP, 8),
        (rec::KIND_CLEAR_MAP, 8),
        (rec::KIND_EXIT, 8),
        (rec::KIND_PRINTF, 16),
    ];
    let mut prog = String::from(
        "*(u64 *)(r10 - 8) = 1\n*(u64 *)(r10 - 16) = 2\nr1 = map[0] ll\nr2 = r10\nr2 += -8\nr3 = r10\nr3 += -16\nr4 = 0\ncall map_update_elem\n*(u32 *)(r10 - 28) = 0\n*(u64 *)(r10 - 24) = 7\n",
    );
    for (kind, len) in records {
        prog.push_str(&format!(
            "*(u32 *)(r10 - 32) = {kind}\nr1 = map[1] ll\nr2 = r10\nr2 += -32\nr3 = {len}\nr4 = 0\ncall ringbuf_output\n"
        ));
    }
    prog.push_str("r0 = 0\nexit\n");
    let prog = capscope_bytecode::asm::assemble(&prog).unwrap();
    let mut env = ModelEnv::new(&obj.maps, EventState::default());
    capscope_bytecode::interp::run(&prog, &[], &mut env, &Default::default()).unwrap();
    let mut exited = false;
    let out = text(|p| {
        exited = drain_records(p, &obj, &mut env)?;
        Ok(())
    });
    assert!(exited);
    assert_eq!(out, "hi 7\n@m[1]: 2\n\n");
    assert!(env.snapshot().maps[0].entries.is_empty());
}

#[test]
fn raw_maps_print_hex_per_cpu() {
    let d = MapDef {
        name: "map0".into(),
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: 2,
        max_entries: 4,
        display: MapDisplay::default(),
    };
    let s = snap(vec![(vec![1, 0, 0, 0], vec![vec![0xab, 0], vec![0, 0xcd]])]);
    assert_eq!(
        text(|p| p.map(&d, &s, None)),
        "map0: percpu_array key_size=4 value_size=2 max_entries=4, 1 entry, 0 drops\n@map0[01000000]: cpu0=ab00 cpu1=00cd\n"
    );
    let j = json_lines(|p| p.map(&d, &s, None));
    assert_eq!(j[0]["data"]["map0"]["01000000"], json!(["ab00", "00cd"]));
}

#[test]
fn keyless_aggregations_in_arrays_skip_untouched_entries() {
    // The language lowers `@h = hist(x)` to a per-CPU array indexed by
    // bucket (u32 keys), and `@c = count()` to a one-entry array; the
    // kernel returns every index.
    let mut h = def(vec![u(4, 0)], vec![u(8, 0)], Aggregation::Hist);
    h.kind = MapKind::PerCpuArray;
    h.key_size = 4;
    let idx = |i: u32| i.to_le_bytes().to_vec();
    let s = snap(
        (0..65u32)
            .map(|i| {
                (
                    idx(i),
                    vec![le(u64::from(i == 3) * 2), le(u64::from(i == 5))],
                )
            })
            .collect(),
    );
    let out = text(|p| p.map(&h, &s, None));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "@m:");
    assert!(lines[1].starts_with("[2, 4)                 2 |"), "{out}");
    assert!(lines[3].starts_with("[8, 16)                1 |"), "{out}");
    assert_eq!(lines.len(), 5, "{out}");
    let mut c = def(vec![], vec![u(8, 0)], Aggregation::Count);
    c.kind = MapKind::PerCpuArray;
    let untouched = snap(vec![(idx(0), vec![le(0), le(0)])]);
    assert_eq!(text(|p| p.map(&c, &untouched, None)), "\n");
    let counted = snap(vec![(idx(0), vec![le(0), le(3)])]);
    assert_eq!(text(|p| p.map(&c, &counted, None)), "@m: 3\n\n");
}

#[test]
fn empty_maps_print_when_asked_and_not_at_the_end() {
    // irq-latency clears its scratch map in END so that only the
    // histograms print, as in bpftrace.
    let d = def(vec![u(8, 0)], vec![u(8, 0)], Aggregation::Count);
    let empty = snap(vec![]);
    let full = snap(vec![(le(1), vec![le(1)])]);
    let at_end = Snapshot {
        maps: vec![empty.clone(), full],
    };
    let defs = [d.clone(), d.clone()];
    assert_eq!(text(|p| p.maps_at_end(&defs, &at_end)), "@m[1]: 1\n\n");
    let j = json_lines(|p| p.maps_at_end(&defs, &at_end));
    assert_eq!(j.len(), 1);
    // print(@m) of an empty map says so.
    assert_eq!(
        json_lines(|p| p.map(&d, &empty, None))[0]["data"]["@m"],
        json!({})
    );
}
