//! The machine code of the benchmark programs: Cranelift's listing, and
//! the raw bytes written to `target/bench_asm/<name>.bin` for
//! `objdump -D -b binary -mi386:x86-64`.
//!
//! `cargo run --release -p capscope-jit --example bench_asm [NAME]`

#[path = "../benches/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use capscope_jit::host::HostCodeMemory;
use capscope_jit::{Jit, Options};
use capscope_verifier::Facts;
use common::*;

fn main() {
    let only = std::env::args().nth(1);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench_asm");
    std::fs::create_dir_all(&dir).expect("output directory");
    let opts = Options {
        emit_asm: true,
        ..Options::host()
    };
    let mut jit = Jit::new(&opts).expect("host JIT");
    for (name, ops) in [
        ("ctx_arith", ctx_arith()),
        ("count", count()),
        ("hist", hist()),
        ("predicate", predicate()),
    ] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let fast = fast::FastEnv::new(&maps_for(name));
        let linker = fast::FastLinker {
            env: &fast,
            inline_arrays: true,
        };
        let insns = slots(&ops);
        let p = jit
            .compile(
                &insns,
                &Facts::conservative(insns.len()),
                &linker,
                &mut HostCodeMemory,
            )
            .expect("benchmark programs compile");
        std::fs::write(dir.join(format!("{name}.bin")), p.code()).expect("write code");
        println!(
            "== {name}: {} slots, {} bytes of code\n{}",
            insns.len(),
            p.code_size(),
            p.asm().unwrap_or_default()
        );
    }
}
