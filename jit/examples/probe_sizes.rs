//! Code size and compile time (median wall time of 200 compiles) of every
//! program of `probes/*.probe`, compiled by the language, verified, and
//! JIT-compiled against the reference model's maps: the real programs, not
//! benchmark kernels. `ASM=<file>:<program>` also prints that program's
//! listing.
//!
//! `cargo run --release -p capscope-jit --example probe_sizes`

use capscope_bytecode::model::ModelEnv;
use capscope_jit::host::{HostCodeMemory, ModelLinker};
use capscope_jit::{Jit, Options};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../probes");
    let show = std::env::var("ASM").ok();
    let opts = Options {
        verify_clif: false,
        emit_asm: show.is_some(),
        ..Options::host()
    };
    let mut jit = Jit::new(&opts).expect("host JIT");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("probes/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "probe"))
        .collect();
    files.sort();
    let (mut slots, mut bytes, mut us) = (0, 0, 0.0);
    println!("| program | slots | code bytes | compile (µs) |");
    println!("|---|---|---|---|");
    for path in files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let src = std::fs::read_to_string(&path).expect("readable probe");
        let obj = match capscope_lang::compile(&src) {
            Ok(c) => c.object,
            Err(e) => panic!("{}", e.render(&file, &src)),
        };
        let env = ModelEnv::new(&obj.maps, Default::default());
        for prog in &obj.programs {
            let name = format!("{file}:{}", prog.name);
            let facts = capscope_verifier::verify(prog, &obj.maps, &Default::default())
                .unwrap_or_else(|r| panic!("{name}: {r}"))
                .facts;
            let mut compile = || {
                jit.compile(&prog.insns, &facts, &ModelLinker(&env), &mut HostCodeMemory)
                    .expect("probes compile")
            };
            let mut times: Vec<f64> = (0..200)
                .map(|_| {
                    let t = std::time::Instant::now();
                    drop(compile());
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let p = compile();
            if show.as_deref() == Some(name.as_str()) {
                println!("{}", p.asm().unwrap_or_default());
            }
            println!(
                "| {name} | {} | {} | {:.1} |",
                prog.insns.len(),
                p.code_size(),
                times[100]
            );
            slots += prog.insns.len();
            bytes += p.code_size();
            us += times[100];
        }
    }
    println!("| total | {slots} | {bytes} | {us:.1} |");
}
