//! Side-by-side execution cost of the four probe-shaped programs on every
//! engine, in one run: this JIT, the reference interpreter (checked and
//! trusted modes), rbpf 0.4's x86 JIT and interpreter on the identical
//! bytecode, and the same logic as hand-written Rust calling the same
//! helpers.
//!
//! Map programs run twice: against the reference model's helpers (group
//! suffix `/model`; its hash lookup alone costs ~60 ns) and against a lean
//! hash map (`/fast`, see `common/fast.rs`), which shows the engines' own
//! cost. `cargo bench -p capscope-jit --bench engines`; docs/performance.md
//! has the table and the ratios.

mod common;

use std::hint::black_box;

use capscope_bytecode::abi::context::SyscallEnterCtx;
use capscope_bytecode::insn::{MapIdx, Op};
use capscope_bytecode::interp::{self, Config, Env};
use capscope_jit::host::HostCodeMemory;
use capscope_jit::{Linker, Options};
use capscope_verifier::Facts;
use common::fast::{FastEnv, FastLinker};
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};

type Native = fn(&SyscallEnterCtx, u64, &Helpers) -> u64;

struct Setup<'a> {
    name: &'a str,
    ops: Vec<Op>,
    native: Native,
    helpers: Helpers,
    handle: u64,
    fast: bool,
}

/// What the benchmark needs from an environment, in turns that never
/// overlap: link (shared borrow), run native code with the environment
/// entered, run the interpreter on it (exclusive borrows).
trait BenchEnv {
    fn linker(&self, inline_arrays: bool) -> Box<dyn Linker + '_>;
    fn interp_env(&mut self) -> &mut dyn Env;
    fn entered(&mut self, f: &mut dyn FnMut());
}

impl BenchEnv for capscope_bytecode::model::ModelEnv {
    fn linker(&self, _: bool) -> Box<dyn Linker + '_> {
        Box::new(ModelLinker(self))
    }
    fn interp_env(&mut self) -> &mut dyn Env {
        self
    }
    fn entered(&mut self, f: &mut dyn FnMut()) {
        // Native helpers act on the environment entered on this thread.
        let _guard = self.enter();
        f();
    }
}

impl BenchEnv for FastEnv {
    fn linker(&self, inline_arrays: bool) -> Box<dyn Linker + '_> {
        Box::new(FastLinker {
            env: self,
            inline_arrays,
        })
    }
    fn interp_env(&mut self) -> &mut dyn Env {
        self
    }
    fn entered(&mut self, f: &mut dyn FnMut()) {
        // Fast helpers find their map through the handle.
        f();
    }
}

fn bench_engines(c: &mut Criterion, group: &str, s: &Setup<'_>, env: &mut dyn BenchEnv) {
    let mut g = c.benchmark_group(group);
    let ctx = context();
    let bytes = ctx_bytes(&ctx).to_vec();
    let slots = slots(&s.ops);
    let facts = Facts::conservative(slots.len());
    let compile = |linker: &dyn Linker| {
        capscope_jit::compile(
            &slots,
            &facts,
            linker,
            &mut HostCodeMemory,
            &Options::host(),
        )
        .unwrap()
    };
    let prog = compile(&*env.linker(false));
    // The same program with array lookups inlined (only hist has one).
    let inlined = (s.name == "hist" && s.fast).then(|| compile(&*env.linker(true)));
    let iprog = interp::Program::new(&slots).unwrap();
    let cfg = Config::default();
    let rb_bytes = rbpf_bytes(&s.ops, |_| Some(s.handle));
    let mut rb_jit = rbpf_vm(&rb_bytes, s.fast);
    rb_jit.jit_compile().unwrap();
    let rb_interp = rbpf_vm(&rb_bytes, s.fast);
    let mut rb_ctx = bytes.clone();
    let mut rb_ctx2 = bytes.clone();

    // Every engine must compute the same r0 before its time means anything.
    let want = iprog.run(&bytes, env.interp_env(), &cfg).unwrap().r0;
    let p = bytes.as_ptr();
    env.entered(&mut || {
        // SAFETY: the programs are correct for this context and these maps
        // (the interpreter just ran them checked); rbpf runs the same code.
        let got = unsafe {
            [
                prog.call(p, 0),
                inlined.as_ref().map_or(want, |i| i.call(p, 0)),
                rb_jit.execute_program_jit(&mut rb_ctx).unwrap(),
                rb_interp.execute_program(&mut rb_ctx2).unwrap(),
                (s.native)(&ctx, s.handle, &s.helpers),
            ]
        };
        assert_eq!(
            got, [want; 5],
            "{group}: jit, inlined, rbpf-jit, rbpf-interp, native"
        );

        g.bench_function("native", |b| {
            b.iter(|| (s.native)(opaque(&ctx), black_box(s.handle), &s.helpers))
        });
        // SAFETY (all JIT calls below): as above.
        g.bench_function("capscope-jit", |b| {
            b.iter(|| unsafe { prog.call(black_box(p), 0) })
        });
        if let Some(inl) = &inlined {
            g.bench_function("capscope-jit-inline-array", |b| {
                b.iter(|| unsafe { inl.call(black_box(p), 0) })
            });
        }
        g.bench_function("rbpf-jit", |b| {
            b.iter(|| unsafe { rb_jit.execute_program_jit(black_box(&mut rb_ctx)).unwrap() })
        });
        g.bench_function("rbpf-interp", |b| {
            b.iter(|| rb_interp.execute_program(black_box(&mut rb_ctx2)).unwrap())
        });
    });
    let ienv = env.interp_env();
    g.bench_function("capscope-interp", |b| {
        b.iter(|| iprog.run(black_box(&bytes), ienv, &cfg).unwrap().r0)
    });
    g.bench_function("capscope-interp-trusted", |b| {
        // SAFETY: the program is correct for this context and maps.
        b.iter(|| {
            unsafe { iprog.run_trusted(black_box(&bytes), ienv, &cfg) }
                .unwrap()
                .r0
        })
    });
    g.finish();
}

fn with_model(c: &mut Criterion, name: &str, ops: Vec<Op>, native: Native) {
    let mut env = model(name);
    let handle = env.handle(MapIdx(0)).unwrap();
    let s = Setup {
        name,
        ops,
        native,
        helpers: MODEL_HELPERS,
        handle,
        fast: false,
    };
    bench_engines(c, &format!("{name}/model"), &s, &mut env);
}

fn with_fast(c: &mut Criterion, name: &str, ops: Vec<Op>, native: Native) {
    let mut env = FastEnv::new(&maps_for(name));
    let handle = env.handle(MapIdx(0)).unwrap();
    let s = Setup {
        name,
        ops,
        native,
        helpers: FAST_HELPERS,
        handle,
        fast: true,
    };
    let group = if name == "ctx_arith" {
        name.to_string()
    } else {
        format!("{name}/fast")
    };
    bench_engines(c, &group, &s, &mut env);
}

fn engines(c: &mut Criterion) {
    with_fast(c, "ctx_arith", ctx_arith(), |ctx, _, _| {
        ctx_arith_native(ctx)
    });
    with_fast(c, "count", count(), count_native);
    with_fast(c, "hist", hist(), hist_native);
    with_fast(c, "predicate", predicate(), predicate_native);
    with_model(c, "count", count(), count_native);
    with_model(c, "hist", hist(), hist_native);
    with_model(c, "predicate", predicate(), predicate_native);
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
