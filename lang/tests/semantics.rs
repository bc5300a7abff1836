//! What compiled programs compute: each script runs in the reference
//! interpreter (memory-checked) on synthetic events, after the verifier
//! accepted it, and the map contents and records are checked.

mod common;

use common::{Harness, word, word32};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn probe(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/../probes/{name}")).unwrap()
}

#[test]
fn cap_leak_keeps_exactly_the_unfreed_slots() {
    let mut h = Harness::new(&probe("cap-leak.probe"));
    for slot in [1, 2, 3, 4] {
        h.fire("cap:alloc", &[("task", 7), ("owner", 7), ("slot", slot)]);
    }
    // Slot 2 deleted, slot 3 revoked from another task, slot 4 torn down.
    h.fire(
        "cap:free",
        &[("task", 7), ("owner", 7), ("slot", 2), ("reason", 1)],
    );
    h.fire(
        "cap:free",
        &[("task", 9), ("owner", 7), ("slot", 3), ("reason", 2)],
    );
    h.fire(
        "cap:free",
        &[("task", 7), ("owner", 7), ("slot", 4), ("reason", 5)],
    );
    let live: Vec<(u32, u32)> = h
        .entries("@live")
        .iter()
        .map(|(k, _)| (word32(k, 0), word32(k, 4)))
        .collect();
    assert_eq!(live, vec![(7, 1), (7, 4)]);
    // Values are stack ids of the allocation's user stack.
    for (_, v) in h.entries("@live") {
        assert!((word(&v, 0) as i64) >= 0);
    }
    let stacks = h
        .env
        .snapshot()
        .maps
        .iter()
        .find(|m| m.name == "stacks")
        .unwrap()
        .entries
        .len();
    assert_eq!(stacks, 1, "one distinct allocation stack");
}

#[test]
fn syscall_counts_per_task_and_number_then_print_and_clear() {
    let mut h = Harness::new(&probe("syscall-count.probe"));
    for _ in 0..3 {
        h.fire("syscall:enter", &[("task", 5), ("nr", 8)]);
    }
    h.fire("syscall:enter", &[("task", 5), ("nr", 10)]);
    h.fire("syscall:enter", &[("task", 6), ("nr", 8), ("cpu", 1)]);
    let got: Vec<(u32, u64, u64)> = h
        .entries("@")
        .iter()
        .map(|(k, v)| (word32(k, 0), word(k, 8), word(v, 0)))
        .collect();
    assert_eq!(got, vec![(5, 8, 3), (5, 10, 1), (6, 8, 1)]);
    h.fire("interval:s:1", &[]);
    let recs = h.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (word32(&recs[0], 0), word32(&recs[0], 4)),
        (2, 0),
        "print(@)"
    );
    assert_eq!(
        (word32(&recs[1], 0), word32(&recs[1], 4)),
        (3, 0),
        "clear(@)"
    );
}

#[test]
fn irq_latency_histogram_buckets_by_vector() {
    let mut h = Harness::new(&probe("irq-latency.probe"));
    h.fire(
        "irq:entry",
        &[("timestamp_ns", 1_000), ("cpu", 0), ("vector", 32)],
    );
    h.fire(
        "irq:exit",
        &[("timestamp_ns", 1_100), ("cpu", 0), ("vector", 32)],
    );
    // An exit without an entry on that CPU is ignored by the predicate.
    h.fire(
        "irq:exit",
        &[("timestamp_ns", 5_000), ("cpu", 1), ("vector", 33)],
    );
    let got: Vec<(u32, u64, u64)> = h
        .entries("@ns")
        .iter()
        .map(|(k, v)| (word32(k, 0), word(k, 8), word(v, 0)))
        .collect();
    // 100 ns: 64 <= 100 < 128, bucket log2(64) + 2 = 8.
    assert_eq!(got, vec![(32, 8, 1)]);
    assert!(h.entries("@start").is_empty(), "the start time was deleted");
}

#[test]
fn hist_buckets_match_bpftrace() {
    let mut h = Harness::new(
        "BEGIN { $m = 0; $m = $m - 5; @h = hist($m); @h = hist($m + 5); @h = hist($m + 6);
                 @h = hist($m + 1028); @h = hist($m + 1029); @h = hist($m - 1); }",
    );
    h.fire("BEGIN", &[]);
    let got: Vec<(u64, u64)> = h
        .entries("@h")
        .iter()
        .map(|(k, v)| (word(k, 0), word(v, 0)))
        .collect();
    assert_eq!(got, vec![(0, 2), (1, 1), (2, 1), (11, 1), (12, 1)]);
}

#[test]
fn lhist_buckets() {
    let mut h = Harness::new(
        "BEGIN { $z = 0; @l = lhist($z - 1, 0, 100, 10); @l = lhist($z, 0, 100, 10);
                 @l = lhist($z + 55, 0, 100, 10); @l = lhist($z + 99, 0, 100, 10);
                 @l = lhist($z + 100, 0, 100, 10); @l = lhist($z + 5000, 0, 100, 10); }",
    );
    h.fire("BEGIN", &[]);
    let got: Vec<(u64, u64)> = h
        .entries("@l")
        .iter()
        .map(|(k, v)| (word(k, 0), word(v, 0)))
        .collect();
    assert_eq!(got, vec![(0, 1), (1, 1), (6, 1), (10, 1), (11, 2)]);
}

#[test]
fn scalar_aggregations() {
    let src = "syscall:enter { @s = sum(args.arg0); @mn = min(args.arg0); @mx = max(args.arg0);
                              @a = avg(args.arg0); @st = stats(args.arg0); @c = count(); }";
    let mut h = Harness::new(src);
    for (v, cpu) in [(10, 0), (3, 1), (25, 0), (6, 1)] {
        h.fire("syscall:enter", &[("arg0", v), ("cpu", cpu)]);
    }
    assert_eq!(h.scalar("@s"), 44);
    assert_eq!(h.scalar("@c"), 4);
    // min/max: {value, seen} per CPU; the host combines CPUs that saw a value.
    let combine = |name: &str, pick: fn(i64, i64) -> i64| {
        h.per_cpu(name)[0]
            .iter()
            .filter(|v| word(v, 8) != 0)
            .map(|v| word(v, 0) as i64)
            .reduce(pick)
            .unwrap()
    };
    assert_eq!(combine("@mn", i64::min), 3);
    assert_eq!(combine("@mx", i64::max), 25);
    let a = &h.entries("@a")[0].1;
    assert_eq!((word(a, 0), word(a, 8)), (44, 4));
    let st = &h.entries("@st")[0].1;
    assert_eq!((word(st, 0), word(st, 8)), (44, 4));
}

#[test]
fn keyless_aggregations_are_per_cpu_arrays_present_once_they_saw_an_event() {
    use capscope_bytecode::object::MapKind;
    let src = "syscall:enter { @z = sum(args.arg0); @c = count(); @h = hist(args.arg0); }
               cap:free { @d = count(); } cap:alloc { delete(@d); }";
    let mut h = Harness::new(src);
    let kind = |name: &str| h.obj.maps.iter().find(|m| m.name == name).unwrap().kind;
    for m in ["@z", "@c", "@h"] {
        assert_eq!(kind(m), MapKind::PerCpuArray, "{m}");
    }
    // A deleted key-less aggregation keeps the hash: a delete must reach
    // every CPU's copy.
    assert_eq!(kind("@d"), MapKind::PerCpuHash);
    for m in ["@z", "@c", "@h"] {
        assert!(h.entries(m).is_empty(), "{m} before any event");
    }
    for cpu in [0, 1] {
        h.fire("syscall:enter", &[("arg0", 0), ("cpu", cpu)]);
    }
    // A total of 0 is still present, thanks to its seen word.
    let z = h.entries("@z");
    assert_eq!(z.len(), 1);
    assert_eq!((word(&z[0].1, 0), word(&z[0].1, 8)), (0, 2));
    assert_eq!(h.scalar("@c"), 2);
    // Each CPU counted into its own copy of bucket 1 (the value 0).
    assert_eq!(h.per_cpu("@h").len(), 1);
    assert_eq!(
        h.per_cpu("@h")[0]
            .iter()
            .map(|v| word(v, 0))
            .collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(word32(&h.entries("@h")[0].0, 0), 1);
}

#[test]
fn plain_maps_variables_strings_tuples_loops() {
    let src = r#"BEGIN {
        $s = "abc";
        if ($s == "abc") { @streq = 1; }
        if ($s != "abd") { @strne = 1; }
        if (comm == "init") { @comm = 1; }
        $t = (7, "xy", 9);
        @t0 = $t.0;
        @t2 = $t.2;
        for ($i : 0..5) { @loop = @loop + $i; }
        $x = 0; $x -= 7;
        @div = $x / 2;
        @mod = $x % 3;
        @shr = $x >> 1;
        @ternary = $x < 0 ? 10 : 20;
        @missing = @nothing[1] + 5;
        @name[comm] = 3;
        @pair[1, "k"] = (4, comm);
        @cast = (u8)($x);
        @logic = ($x < 0 && $s == "abc") || @nothing[2];
        @narrow = (i32)0xffffffff + 0;
    }"#;
    let mut h = Harness::new(src);
    h.fire("BEGIN", &[]);
    for (m, v) in [
        ("@streq", 1),
        ("@strne", 1),
        ("@comm", 1),
        ("@t0", 7),
        ("@t2", 9),
        ("@loop", 10),
        ("@div", -3),
        ("@mod", -1),
        ("@shr", -4),
        ("@ternary", 10),
        ("@missing", 5),
        ("@cast", 249),
        ("@logic", 1),
        ("@narrow", -1),
    ] {
        assert_eq!(h.scalar(m), v, "{m}");
    }
    let name = h.entries("@name");
    assert_eq!(&name[0].0[..5], b"init\0");
    assert_eq!(name[0].0.len(), 16);
    let pair = h.entries("@pair");
    assert_eq!(word(&pair[0].0, 0), 1);
    assert_eq!(&pair[0].0[8..10], b"k\0");
    assert_eq!(word(&pair[0].1, 0), 4);
    assert_eq!(&pair[0].1[8..13], b"init\0");
}

#[test]
fn printf_records_follow_the_format_table() {
    let mut h = Harness::new(
        r#"cap:map /args.overmap/ { printf("%d %s %u\n", args.dst_slot, comm, 42); exit(); }"#,
    );
    h.fire("cap:map", &[("overmap", 0), ("dst_slot", 3)]);
    assert!(h.records().is_empty(), "the predicate filtered the event");
    h.fire("cap:map", &[("overmap", 1), ("dst_slot", 3)]);
    let recs = h.records();
    assert_eq!(recs.len(), 2);
    let f = &h.obj.formats[0];
    assert_eq!(f.template, "%d %s %u\n");
    assert_eq!(
        f.args.iter().map(|a| a.size).collect::<Vec<_>>(),
        vec![8, 16, 8]
    );
    let r = &recs[0];
    assert_eq!((word32(r, 0), word32(r, 4)), (1, 0));
    assert_eq!(word(r, 8), 3);
    assert_eq!(&r[16..21], b"init\0");
    assert_eq!(word(r, 32), 42);
    assert_eq!(word32(&recs[1], 0), 5, "exit record");
}

#[test]
fn filters_and_retval() {
    let mut h = Harness::new(
        "syscall:enter:map { @maps = count(); }
         irq:entry:0x20 { @timer = count(); }
         syscall:exit /retval < 0/ { @errors[args.nr, retval] = count(); }",
    );
    h.fire("syscall:enter:map", &[("nr", 8)]);
    h.fire("syscall:enter:map", &[("nr", 9)]);
    h.fire("irq:entry:0x20", &[("vector", 32)]);
    h.fire("irq:entry:0x20", &[("vector", 33)]);
    h.fire("syscall:exit", &[("nr", 10), ("ret", -71i64 as u64)]);
    h.fire("syscall:exit", &[("nr", 10), ("ret", 0)]);
    assert_eq!(h.scalar("@maps"), 1);
    assert_eq!(h.scalar("@timer"), 1);
    let e = h.entries("@errors");
    assert_eq!(e.len(), 1);
    assert_eq!((word(&e[0].0, 0), word(&e[0].0, 8) as i64), (10, -71));
}

#[test]
fn wildcard_probes_share_a_body_with_per_point_offsets() {
    let mut h = Harness::new("cap:* { @[probe, args.object] = count(); }");
    assert_eq!(h.obj.programs.len(), 5);
    h.fire("cap:alloc", &[("object", 11)]);
    h.fire("cap:map", &[("object", 12)]);
    h.fire("cap:invoke", &[("object", 13)]);
    let got: Vec<(String, u64)> = h
        .entries("@")
        .iter()
        .map(|(k, _)| {
            let n = k.iter().position(|&b| b == 0).unwrap();
            let off = k.len() - 8;
            (String::from_utf8(k[..n].to_vec()).unwrap(), word(k, off))
        })
        .collect();
    assert!(got.contains(&("cap:alloc".into(), 11)), "{got:?}");
    assert!(got.contains(&("cap:map".into(), 12)), "{got:?}");
    assert!(got.contains(&("cap:invoke".into(), 13)), "{got:?}");
}

#[test]
fn many_temporaries_spill_to_the_stack() {
    let mut h = Harness::new(
        "syscall:enter { @k[args.arg0, args.arg1, args.arg2, args.arg3, args.arg4, args.arg5] =
             sum(args.arg0 + (args.arg1 * (args.arg2 - (args.arg3 + (args.arg4 * args.arg5))))); }",
    );
    h.fire(
        "syscall:enter",
        &[
            ("arg0", 1),
            ("arg1", 2),
            ("arg2", 30),
            ("arg3", 4),
            ("arg4", 5),
            ("arg5", 2),
        ],
    );
    let e = h.entries("@k");
    assert_eq!(e.len(), 1);
    assert_eq!(
        (0..6).map(|i| word(&e[0].0, i * 8)).collect::<Vec<_>>(),
        vec![1, 2, 30, 4, 5, 2]
    );
    assert_eq!(word(&e[0].1, 0), 1 + 2 * (30 - (4 + 5 * 2)));
}

/// Every program of every valid case, probe script and doc example runs in
/// the memory-checked interpreter without a trap, on contexts of zeros, of
/// ones and of pseudo-random bytes, with map state carried across runs.
#[test]
fn every_compiled_program_runs_trap_free() {
    use capscope_bytecode::interp::{self, Config};
    use capscope_bytecode::model::{EventState, ModelEnv};

    let mut sources = Vec::new();
    for dir in [
        format!("{ROOT}/../probes"),
        format!("{ROOT}/tests/cases/valid"),
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "probe") {
                sources.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for src in &sources {
        let c = common::compile(src);
        let mut env = ModelEnv::new(
            &c.object.maps,
            EventState {
                ncpus: 2,
                ..EventState::default()
            },
        );
        for round in 0..4 {
            for p in &c.object.programs {
                let size = p.attach.point.context_size();
                let mut ctx: Vec<u8> = match round {
                    0 => vec![0; size],
                    1 => vec![0xff; size],
                    _ => (0..size).map(|_| next() as u8).collect(),
                };
                // Keep the CPU number sane, as the kernel does.
                ctx[8..12].copy_from_slice(&(round as u32 % 2).to_le_bytes());
                env.event_mut().cpu = round as u32 % 2;
                let exit = interp::run(&p.insns, &ctx, &mut env, &Config::default())
                    .unwrap_or_else(|t| panic!("{} trapped: {t:?}\n{src}", p.name));
                assert_eq!(exit.r0, 0);
                runs += 1;
            }
        }
    }
    assert!(runs > 100, "{runs}");
}
