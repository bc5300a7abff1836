//! Cost per fire: nothing attached, an empty program, `count()` and
//! `hist()`, each JIT-compiled through the same loader (verify + JIT) the
//! kernel runs. The aggregations are compiled from scripts by the language,
//! so they are exactly what `capscope` loads; hand-written variants next to
//! them show what a design choice costs (the previous lowering into a
//! per-CPU hash, a plain instead of an atomic add).
//!
//! `cargo bench -p capscope-kernel-hooks --bench fire`

#[path = "../tests/common/programs.rs"]
mod programs;

use std::hint::black_box;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::context::CapInvokeCtx;
use capscope_bytecode::object::{MapKind, ProbeObject};
use capscope_kernel_hooks::*;
use criterion::{Criterion, criterion_group, criterion_main};
use programs::*;

fn syscall_event(i: u64) {
    fire(AttachPoint::SyscallEnter, || {
        syscall_ctx(i, 0, black_box(i.wrapping_mul(0x9e37_79b9) >> 40))
    });
}

/// The fastest of `rounds` timed batches of `n` calls, in ns per call: on a
/// shared, loaded machine the minimum is the figure least disturbed by
/// other processes (criterion's median is reported next to it).
fn min_ns(mut f: impl FnMut(u64), n: u64, rounds: u32) -> f64 {
    let mut best = f64::MAX;
    let mut i = 0u64;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for _ in 0..n {
            i += 1;
            f(i);
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

/// The programs measured, by row name: the object and whether its code is
/// JIT-compiled (or a native function stands in).
fn cases() -> Vec<(&'static str, ProbeObject)> {
    let hand = |maps, text: &str| obj(maps, vec![program(AttachPoint::SyscallEnter, text)]);
    let hash = |n| vec![map("@", MapKind::PerCpuHash, 8, 8, n)];
    let array = vec![map("@", MapKind::PerCpuArray, 4, 8, 1)];
    vec![
        ("empty program", hand(vec![], EMPTY)),
        (
            "@ = count() (per-CPU array, as lang emits)",
            compile("syscall:enter { @ = count(); }"),
        ),
        (
            "@ = count() per-CPU array, plain add",
            hand(array, &count_array(Add::Plain)),
        ),
        (
            "@ = count() per-CPU hash (previous lowering)",
            hand(hash(1), &count_hash(KEY_ZERO, Add::Atomic)),
        ),
        (
            "@[task] = count() (per-CPU hash, as lang emits)",
            compile("syscall:enter { @[task] = count(); }"),
        ),
        (
            "@ = hist(arg0) (per-CPU array, as lang emits)",
            compile("syscall:enter { @ = hist(args.arg0); }"),
        ),
        (
            "@ = hist(arg0) per-CPU hash (previous lowering)",
            hand(hash(64), &count_hash(KEY_LOG2_ARG0, Add::Atomic)),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    HostPlatform::install(2);
    let mut g = c.benchmark_group("fire");
    let unarmed = |i: u64| {
        fire(AttachPoint::CapInvoke, || CapInvokeCtx {
            label: black_box(i),
            ..Default::default()
        })
    };
    eprintln!(
        "min-of-rounds nothing attached: {:.2} ns",
        min_ns(unarmed, 200_000, 200)
    );
    let mut i = 0u64;
    g.bench_function("nothing attached", |b| {
        b.iter(|| {
            i += 1;
            unarmed(i);
        })
    });

    // The fire path alone: a native function that returns at once.
    extern "C" fn native_empty(_: *const u8, _cpu: u64) -> u64 {
        0
    }
    let id = load_object(
        &obj(vec![], vec![program(AttachPoint::SyscallEnter, EMPTY)]),
        &mut |_: &ProbeObject, _: usize, _: &[u64]| {
            // SAFETY: the function ignores its arguments.
            Ok(unsafe { Code::new(native_empty, Box::new(()), 0) })
        },
    )
    .expect("native load");
    eprintln!(
        "min-of-rounds native empty function: {:.2} ns",
        min_ns(syscall_event, 200_000, 200)
    );
    let mut i = 0u64;
    g.bench_function("native empty function", |b| {
        b.iter(|| {
            i += 1;
            syscall_event(i);
        })
    });
    drop(detach(id).expect("detach"));

    for (name, o) in cases() {
        let id = load_jit(&o).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!(
            "min-of-rounds {name}: {:.2} ns",
            min_ns(syscall_event, 200_000, 200)
        );
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                syscall_event(i);
            })
        });
        let d = detach(id).expect("detach");
        let p = &d.info().programs[0];
        eprintln!(
            "{name}: {} runs, ~{} ns per run inside the program",
            p.runs,
            p.run_ns / p.runs.max(1)
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
