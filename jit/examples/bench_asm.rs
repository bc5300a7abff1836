//! The machine code of the benchmark programs: Cranelift's listing, and
//! the raw bytes written to `target/bench_asm/<name>.bin` for
//! `objdump -D -b binary -mi386:x86-64`.
//!
//! `cargo run --release -p capscope-jit --example bench_asm [NAME]`

#[path = "../benches/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use capscope_bytecode::abi::helpers::HelperFn;
use capscope_bytecode::insn::{HelperId, MapIdx};
use capscope_jit::host::HostCodeMemory;
use capscope_jit::{ArrayLayout, Jit, Linker, Options};
use capscope_verifier::Facts;
use common::*;

/// `@ = count()` as the language lowers it: a constant key on the stack,
/// a lookup in a one-entry per-CPU array, an atomic add.
const COUNT_KEYLESS: &str = "
    r6 = r1
    *(u32 *)(r10 - 8) = 0
    r1 = map[0] ll
    r2 = r10
    r2 += -8
    call map_lookup_elem
    if r0 == 0 goto +2
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r0 = 0
    exit
";

/// A per-CPU array of one u64 per CPU at a made-up address: the code is
/// only listed, never run.
struct PerCpuLinker;

impl Linker for PerCpuLinker {
    fn map_handle(&self, _: MapIdx) -> Option<u64> {
        Some(0x1000)
    }
    fn helper(&self, _: HelperId) -> Option<HelperFn> {
        None
    }
    fn array_map(&self, _: MapIdx) -> Option<ArrayLayout> {
        Some(ArrayLayout {
            values: 0x10_0000,
            value_stride: 8,
            max_entries: 1,
            cpu_stride: 8,
        })
    }
}

fn main() {
    let only = std::env::args().nth(1);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench_asm");
    std::fs::create_dir_all(&dir).expect("output directory");
    let opts = Options {
        emit_asm: true,
        emit_clif: std::env::var_os("CLIF").is_some(),
        ..Options::host()
    };
    let mut jit = Jit::new(&opts).expect("host JIT");
    if only.as_deref().is_none_or(|o| o == "count_keyless") {
        let insns = capscope_bytecode::asm::assemble(COUNT_KEYLESS).expect("assembles");
        let p = jit
            .compile(
                &insns,
                &Facts::conservative(insns.len()),
                &PerCpuLinker,
                &mut capscope_jit::host::HostCodeMemory,
            )
            .expect("compiles");
        std::fs::write(dir.join("count_keyless.bin"), p.code()).expect("write code");
        println!(
            "== count_keyless: {} slots, {} bytes of code\n{}",
            insns.len(),
            p.code_size(),
            p.asm().unwrap_or_default()
        );
    }
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
        if let Some(clif) = p.clif() {
            println!("== {name}: Cranelift IR as translated\n{clif}");
        }
        println!(
            "== {name}: {} slots, {} bytes of code\n{}",
            insns.len(),
            p.code_size(),
            p.asm().unwrap_or_default()
        );
    }
}
