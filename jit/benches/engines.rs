//! Side-by-side execution cost of the four probe-shaped programs on every
//! engine, in one run: this JIT, the reference interpreter (checked and
//! trusted modes), rbpf 0.4's x86 JIT and interpreter on the identical
//! bytecode, and the same logic as hand-written Rust.
//!
//! `cargo bench -p capscope-jit --bench engines`; docs/performance.md has
//! the table and the ratios.

mod common;

use std::hint::black_box;

use capscope_bytecode::interp::{self, Config};
use capscope_jit::host::HostCodeMemory;
use capscope_jit::Options;
use capscope_verifier::Facts;
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};

type Native = fn(&capscope_bytecode::abi::context::SyscallEnterCtx, u64) -> u64;

fn bench_program(c: &mut Criterion, name: &str, ops: Vec<capscope_bytecode::insn::Op>, native: Native) {
    let ctx = context();
    let mut ctx_copy = ctx_bytes(&ctx).to_vec();
    let slots = slots(&ops);
    let mut env = model(name);
    let handle = env.handle(capscope_bytecode::insn::MapIdx(0)).unwrap();
    let rb_bytes = rbpf_bytes(&ops, &env);
    let prog = capscope_jit::compile(
        &slots,
        &Facts::conservative(slots.len()),
        &ModelLinker(&env),
        &mut HostCodeMemory,
        &Options::host(),
    )
    .unwrap();
    let iprog = interp::Program::new(&slots).unwrap();
    let cfg = Config::default();
    let mut g = c.benchmark_group(name);

    {
        let _guard = env.enter();
        let p = ctx_bytes(&ctx).as_ptr();
        g.bench_function("native", |b| b.iter(|| native(opaque(&ctx), black_box(handle))));
        // SAFETY: the program is correct for this context and these maps
        // (the differential tests check it against the interpreter).
        g.bench_function("capscope-jit", |b| b.iter(|| unsafe { prog.call(black_box(p)) }));
        let mut vm = rbpf_vm(&rb_bytes);
        vm.jit_compile().unwrap();
        // SAFETY: as above; rbpf's JIT runs the same bytecode.
        g.bench_function("rbpf-jit", |b| {
            b.iter(|| unsafe { vm.execute_program_jit(black_box(&mut ctx_copy)).unwrap() })
        });
        let vm = rbpf_vm(&rb_bytes);
        let mut ctx_copy2 = ctx_bytes(&ctx).to_vec();
        g.bench_function("rbpf-interp", |b| {
            b.iter(|| vm.execute_program(black_box(&mut ctx_copy2)).unwrap())
        });
    }
    let bytes = ctx_bytes(&ctx).to_vec();
    g.bench_function("capscope-interp", |b| {
        b.iter(|| iprog.run(black_box(&bytes), &mut env, &cfg).unwrap().r0)
    });
    g.bench_function("capscope-interp-trusted", |b| {
        // SAFETY: the program is correct for this context and maps.
        b.iter(|| unsafe { iprog.run_trusted(black_box(&bytes), &mut env, &cfg) }.unwrap().r0)
    });
    g.finish();
}

fn engines(c: &mut Criterion) {
    bench_program(c, "ctx_arith", ctx_arith(), |ctx, _| ctx_arith_native(ctx));
    bench_program(c, "count", count(), count_native);
    bench_program(c, "hist", hist(), hist_native);
    bench_program(c, "predicate", predicate(), predicate_native);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = engines
}
criterion_main!(benches);
