//! Fire `syscall:enter` N times with one script attached, for instruction
//! counts that no other process on the machine can disturb:
//!
//! ```sh
//! cargo build --release -p capscope-kernel-hooks --example fire_count
//! for n in 0 1000000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/fire_count 'syscall:enter { @ = count(); }' $n 2>&1 | grep refs
//! done   # (difference) / 1000000 = instructions per fire
//! ```
//!
//! The script is loaded and attached before the loop, through the kernel's
//! loader (verify + JIT), so both runs pay the same setup. `native` instead
//! of a script attaches an empty native function (the fire path alone);
//! `none` attaches nothing.

#[path = "../tests/common/programs.rs"]
mod programs;

use std::hint::black_box;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::object::ProbeObject;
use capscope_kernel_hooks::*;
use programs::*;

extern "C" fn native_empty(_: *const u8, _cpu: u64) -> u64 {
    0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let script = args.next().unwrap_or_else(|| "native".into());
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    HostPlatform::install(2);
    let id = match script.as_str() {
        "none" => None,
        "native" => Some(
            load_object(
                &obj(vec![], vec![program(AttachPoint::SyscallEnter, EMPTY)]),
                &mut |_: &ProbeObject, _: usize, _: &[u64]| {
                    // SAFETY: the function ignores its arguments.
                    Ok(unsafe { Code::new(native_empty, Box::new(()), 0) })
                },
            )
            .expect("native load"),
        ),
        src => Some(load_jit(&compile(src)).unwrap_or_else(|e| panic!("{e}"))),
    };
    let t = std::time::Instant::now();
    for i in 0..n {
        fire(AttachPoint::SyscallEnter, || {
            syscall_ctx(i, 0, black_box(i.wrapping_mul(0x9e37_79b9) >> 40))
        });
    }
    let took = t.elapsed();
    if n > 0 {
        eprintln!("{:.2} ns per fire", took.as_nanos() as f64 / n as f64);
    }
    if let Some(id) = id {
        drop(detach(id).expect("detach"));
    }
}
