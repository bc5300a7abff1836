//! Compile time: each benchmark program, and a 50-instruction probe-shaped
//! program (the yardstick: median under 100 µs), with a fresh
//! compiler per compile (what `capscope_jit::compile` does) and with a
//! reused [`capscope_jit::Jit`].
//!
//! `cargo bench -p capscope-jit --bench compile`

mod common;

use capscope_jit::host::HostCodeMemory;
use capscope_jit::{CodeMemory, CodeMemoryError, ExecutableCode, Jit, Options};
use capscope_verifier::Facts;
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};

/// Code memory that only copies the bytes into a heap buffer, to time code
/// generation without the `mmap`/`mprotect`/`munmap` of installing it.
/// Its "code" is never called.
struct HeapCode(Vec<u8>);

// SAFETY: never called; the benchmark only drops it. (`entry` is not
// executable, which is why this type stays inside this benchmark.)
unsafe impl ExecutableCode for HeapCode {
    fn entry(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct HeapMemory;

impl CodeMemory for HeapMemory {
    fn install(&mut self, code: &[u8]) -> Result<Box<dyn ExecutableCode>, CodeMemoryError> {
        Ok(Box::new(HeapCode(code.to_vec())))
    }
}

fn compile_times(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    let programs = [
        ("ctx_arith", ctx_arith()),
        ("count", count()),
        ("hist", hist()),
        ("predicate", predicate()),
        ("fifty", fifty()),
    ];
    for (name, ops) in &programs {
        let slots = slots(ops);
        let facts = Facts::conservative(slots.len());
        let env = model(if *name == "hist" { "hist" } else { "count" });
        let linker = ModelLinker(&env);
        let opts = Options {
            verify_clif: false,
            ..Options::host()
        };
        g.bench_function(format!("{name}/{}-slots/fresh", slots.len()), |b| {
            b.iter(|| {
                capscope_jit::compile(&slots, &facts, &linker, &mut HostCodeMemory, &opts).unwrap()
            })
        });
        let mut jit = Jit::new(&opts).unwrap();
        g.bench_function(format!("{name}/{}-slots/reused", slots.len()), |b| {
            b.iter(|| {
                jit.compile(&slots, &facts, &linker, &mut HostCodeMemory)
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}/{}-slots/codegen-only", slots.len()), |b| {
            b.iter(|| {
                jit.compile(&slots, &facts, &linker, &mut HeapMemory)
                    .unwrap()
            })
        });
        // rbpf's single-pass x86 JIT on the same bytecode, for scale.
        let rb = rbpf_bytes(ops, |i| env.handle(i));
        g.bench_function(format!("{name}/{}-slots/rbpf-jit", slots.len()), |b| {
            b.iter(|| {
                let mut vm = rbpf_vm(&rb, false);
                vm.jit_compile().unwrap();
                vm
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
    targets = compile_times
}
criterion_main!(benches);
