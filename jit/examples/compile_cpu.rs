//! Compile time in thread CPU time, which a busy shared machine inflates far
//! less than wall time: the median over 3,000 compiles of each benchmark
//! program, generating code only (into a heap buffer) and with the host's
//! W^X install (`mmap`, `mprotect`, `munmap`).
//!
//! `cargo run --release -p capscope-jit --example compile_cpu`

#[path = "../benches/common/mod.rs"]
mod common;

use capscope_jit::host::HostCodeMemory;
use capscope_jit::{CodeMemory, CodeMemoryError, ExecutableCode, Jit, Options};
use capscope_verifier::Facts;
use common::*;

/// Code "memory" that only copies the bytes; the code is never called.
struct HeapCode(Vec<u8>);

// SAFETY: never called (see `HeapMemory`).
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

fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid out-pointer; the clock id exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn median_us(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<u64> = (0..3000)
        .map(|_| {
            let t = thread_cpu_ns();
            f();
            thread_cpu_ns() - t
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2] as f64 / 1000.0
}

fn main() {
    let mut with_count = ctx_arith();
    with_count.pop();
    with_count.extend(count());
    let programs = [
        ("ctx_arith", ctx_arith()),
        ("count", count()),
        ("predicate", predicate()),
        ("hist", hist()),
        ("ctx_arith+count", with_count),
        ("fifty", fifty()),
    ];
    let opts = Options {
        verify_clif: false,
        ..Options::host()
    };
    let mut jit = Jit::new(&opts).unwrap();
    println!("| program | slots | codegen only (µs) | with W^X install (µs) |");
    println!("|---|---|---|---|");
    for (name, ops) in programs {
        let slots = slots(&ops);
        let facts = Facts::conservative(slots.len());
        let env = model(if name.contains("hist") {
            "hist"
        } else {
            "count"
        });
        let linker = ModelLinker(&env);
        let heap = median_us(|| {
            drop(
                jit.compile(&slots, &facts, &linker, &mut HeapMemory)
                    .unwrap(),
            )
        });
        let host = median_us(|| {
            drop(
                jit.compile(&slots, &facts, &linker, &mut HostCodeMemory)
                    .unwrap(),
            )
        });
        println!("| {name} | {} | {heap:.1} | {host:.1} |", slots.len());
    }
}
