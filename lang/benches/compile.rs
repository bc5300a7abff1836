//! Source to verified-ready bytecode, per script in `probes/`: the time
//! `capscope` spends in the compiler before the verifier runs (and, in a
//! second group, with the verifier). bpftrace needs 32 ms from start to
//! attached for a one-liner (shared/ANCHORS.md); the goal here is well
//! under 1 ms.

use criterion::{Criterion, criterion_group, criterion_main};

fn scripts() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../probes");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "probe"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    for (name, src) in scripts() {
        g.bench_function(&name, |b| {
            b.iter(|| capscope_lang::compile(std::hint::black_box(&src)).unwrap())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("compile+verify");
    for (name, src) in scripts() {
        g.bench_function(&name, |b| {
            b.iter(|| {
                let c = capscope_lang::compile(std::hint::black_box(&src)).unwrap();
                for p in &c.object.programs {
                    capscope_verifier::verify(p, &c.object.maps, &Default::default()).unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = compile
}
criterion_main!(benches);
