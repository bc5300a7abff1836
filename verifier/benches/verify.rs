//! Verification time against program size (straight-line code, 64 to 4,096
//! instructions) and against path count (chains of if/else diamonds on an
//! unknown value: 2^n paths), plus a bounded loop.
//!
//! `cargo bench -p capscope-verifier` prints criterion's figures, then a
//! summary table of medians per instruction.

use std::hint::black_box;
use std::time::{Duration, Instant};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::Insn;
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind};
use capscope_verifier::{Options, verify_insns};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn maps() -> Vec<MapDef> {
    vec![MapDef {
        name: "m".into(),
        kind: MapKind::Hash,
        key_size: 8,
        value_size: 64,
        max_entries: 1024,
        display: MapDisplay::default(),
    }]
}

/// About `n` instructions of typical probe code with no branches: context
/// reads, arithmetic, stack stores and loads.
pub fn straight_line(n: usize) -> Vec<Insn> {
    let mut text = String::from("r6 = *(u64 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 8)\n");
    let mut k = 2;
    let mut i = 0;
    while k + 6 < n {
        let off = 8 * (1 + i % 32);
        text += &format!(
            "r6 += r7\nr7 ^= {i}\n*(u64 *)(r10 - {off}) = r6\nr8 = *(u64 *)(r10 - {off})\nr6 &= 0xffff\nr7 = r8\n"
        );
        k += 6;
        i += 1;
    }
    while k + 2 < n {
        text += "r6 += 1\n";
        k += 1;
    }
    text += "r0 = r6\nexit\n";
    assemble(&text).expect("assembles")
}

/// `n` if/else diamonds in a row on an unknown value.
pub fn diamonds(n: usize) -> Vec<Insn> {
    let mut text = String::from("r6 = *(u64 *)(r1 + 0)\nr7 = 0\n");
    for i in 0..n {
        text += &format!("if r6 > {} goto +2\nr7 += 1\ngoto +1\nr7 += 2\n", i * 3);
    }
    text += "r0 = r7\nexit\n";
    assemble(&text).expect("assembles")
}

/// A loop of `n` iterations with a lookup-free body.
pub fn bounded_loop(n: usize) -> Vec<Insn> {
    assemble(&format!(
        "r0 = 0\nr1 = 0\nl:\nr0 += r1\nr1 += 1\nif r1 < {n} goto l\nexit\n"
    ))
    .expect("assembles")
}

fn run(insns: &[Insn]) {
    verify_insns(insns, AttachPoint::Begin, &maps(), &Options::default()).expect("accepted");
}

fn median(insns: &[Insn]) -> Duration {
    let mut v: Vec<Duration> = (0..31)
        .map(|_| {
            let t = Instant::now();
            run(black_box(insns));
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("straight_line");
    for n in [64usize, 256, 1024, 4096] {
        let p = straight_line(n);
        g.throughput(Throughput::Elements(p.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &p, |b, p| b.iter(|| run(p)));
    }
    g.finish();
    let mut g = c.benchmark_group("diamonds");
    for n in [10usize, 20, 40, 80] {
        let p = diamonds(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &p, |b, p| b.iter(|| run(p)));
    }
    g.finish();
    let mut g = c.benchmark_group("loop");
    for n in [100usize, 10_000] {
        let p = bounded_loop(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &p, |b, p| b.iter(|| run(p)));
    }
    g.finish();

    println!("\nsummary (median of 31 runs, this machine):");
    println!(
        "{:<22} {:>8} {:>12} {:>12}",
        "program", "insns", "time", "ns/insn"
    );
    let rows: Vec<(String, Vec<Insn>)> = [64usize, 256, 1024, 4096]
        .iter()
        .map(|&n| (format!("straight-line {n}"), straight_line(n)))
        .chain(
            [10usize, 20, 40, 80]
                .iter()
                .map(|&n| (format!("{n} diamonds (2^{n} paths)"), diamonds(n))),
        )
        .chain([(String::from("loop x10000"), bounded_loop(10_000))])
        .collect();
    for (name, p) in rows {
        let m = median(&p);
        println!(
            "{name:<22} {:>8} {:>10.1}µs {:>12.1}",
            p.len(),
            m.as_secs_f64() * 1e6,
            m.as_nanos() as f64 / p.len() as f64
        );
    }
}

criterion_group! {
    name = verifier;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = benches
}
criterion_main!(verifier);
