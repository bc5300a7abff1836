//! A one-CPU platform, as the reference kernel is: the fire path and the
//! helpers take CPU 0 without asking the platform, and everything a script
//! does still lands in the single per-CPU copy. Its own test binary, since
//! the platform is installed once per process.

mod common;

use capscope_bytecode::abi::AttachPoint;
use capscope_kernel_hooks::*;
use common::*;

#[test]
fn one_cpu_runs_programs_as_cpu_0() {
    HostPlatform::install(1);
    let id = load_jit(&compile(
        "syscall:enter { @ = count(); @by_cpu[cpu] = count(); @by_nr[args.nr] = sum(args.arg0); }",
    ))
    .unwrap();
    for i in 0..300 {
        syscall(i % 3, 2);
    }
    let read = |map: u32| -> Vec<(Vec<u64>, Vec<u64>)> {
        let r = read_map(id, map, 0, 100).unwrap();
        r.page
            .entries
            .iter()
            .map(|e| (u64s(&e.key), u64s(&e.value)))
            .collect()
    };
    // One CPU: every per-CPU value has exactly one copy.
    assert_eq!(read(0), [(vec![0], vec![300])], "@ = count()");
    assert_eq!(read(1), [(vec![0], vec![300])], "@by_cpu[cpu]");
    let mut by_nr = read(2);
    by_nr.sort();
    assert_eq!(
        by_nr,
        [
            (vec![0], vec![200]),
            (vec![1], vec![200]),
            (vec![2], vec![200])
        ],
        "@by_nr[args.nr] = sum(args.arg0), through the helper's per-CPU lookup"
    );
    let d = detach(id).unwrap();
    assert_eq!(d.info().programs[0].runs, 300);
    assert_eq!(missed(AttachPoint::SyscallEnter), 0);
}
