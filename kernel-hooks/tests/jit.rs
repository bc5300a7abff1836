//! The real pipeline: eBPF (hand-written, or compiled from a script by the
//! language), verified and JIT-compiled by the loader, attached, fired, and
//! read back.

mod common;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_bytecode::insn::InsnIdx;
use capscope_bytecode::object::{LineEntry, MapKind, Span};
use capscope_kernel_hooks::*;
use common::*;

/// Sum over CPUs of each entry, by its first key word.
fn totals(id: ObjectId, map: u32) -> std::collections::BTreeMap<u64, u64> {
    let r = read_map(id, map, 0, 1000).unwrap();
    r.page
        .entries
        .iter()
        .map(|e| (u64s(&e.key)[0], u64s(&e.value).iter().sum()))
        .filter(|&(_, v)| v != 0)
        .collect()
}

#[test]
fn jit_count_into_a_per_cpu_hash() {
    let (_g, _) = setup();
    let id = load_jit(&obj(
        vec![map("@", MapKind::PerCpuHash, 8, 8, 16)],
        vec![program(
            AttachPoint::SyscallEnter,
            &count_hash(KEY_NR, Add::Atomic),
        )],
    ))
    .unwrap();
    for i in 0..1000 {
        syscall(i % 3, 0);
    }
    std::thread::spawn(|| (0..600).for_each(|_| syscall(7, 0)))
        .join()
        .unwrap();
    assert_eq!(
        totals(id, 0).into_iter().collect::<Vec<_>>(),
        [(0, 334), (1, 333), (2, 333), (7, 600)]
    );
    let d = detach(id).unwrap();
    assert_eq!(d.info().programs[0].runs, 1600);
    assert!(d.info().programs[0].code_bytes > 0);
}

#[test]
fn the_benchmark_count_is_the_languages() {
    let lang = compile("syscall:enter { @ = count(); }");
    assert_eq!(lang.maps[0].kind, MapKind::PerCpuArray);
    assert_eq!(
        lang.programs[0].insns,
        assemble(&count_array(Add::Atomic)).unwrap()
    );
}

/// `@ = count()` compiled by the language: a per-CPU array whose lookup
/// the JIT inlines with the CPU index the fire path passes. Each thread
/// (a CPU on the host) counts into its own copy.
#[test]
fn jit_keyless_count_counts_per_cpu() {
    let (_g, _) = setup();
    for add in [Add::Atomic, Add::Plain] {
        let o = obj(
            vec![map("@", MapKind::PerCpuArray, 4, 8, 1)],
            vec![program(AttachPoint::SyscallEnter, &count_array(add))],
        );
        let id = load_jit(&o).unwrap();
        (0..1000).for_each(|_| syscall(0, 0));
        let other = std::thread::spawn(|| {
            (0..600).for_each(|_| syscall(0, 0));
            // The CPU index this thread leased (threads play CPUs).
            helpers::helper(capscope_bytecode::abi::helpers::id::GET_SMP_PROCESSOR_ID)
                .map(|f| {
                    // SAFETY: the helper takes no arguments.
                    unsafe { f(0, 0, 0, 0, 0) }
                })
                .unwrap()
        })
        .join()
        .unwrap();
        let me = helpers::helper(capscope_bytecode::abi::helpers::id::GET_SMP_PROCESSOR_ID)
            .map(|f| {
                // SAFETY: as above.
                unsafe { f(0, 0, 0, 0, 0) }
            })
            .unwrap();
        assert_ne!(me, other);
        let r = read_map(id, 0, 0, 10).unwrap();
        assert_eq!(r.values_per_entry, 4);
        let per_cpu = u64s(&r.page.entries[0].value);
        let mut want = vec![0u64; 4];
        want[me as usize] = 1000;
        want[other as usize] = 600;
        assert_eq!(per_cpu, want, "{add:?}");
        drop(detach(id).unwrap());
    }
}

/// bpftrace's log2 bucket.
fn bucket(x: u64) -> u64 {
    if (x as i64) < 0 {
        0
    } else if x == 0 {
        1
    } else {
        63 - u64::from(x.leading_zeros()) + 2
    }
}

#[test]
fn jit_hist_buckets_like_bpftrace() {
    let (_g, _) = setup();
    // As a keyed aggregation lowers (a per-CPU hash keyed by the bucket),
    // and as the language lowers `@ = hist(x)` (a per-CPU array indexed by
    // it).
    let objects = [
        obj(
            vec![map("@", MapKind::PerCpuHash, 8, 8, 70)],
            vec![program(
                AttachPoint::SyscallEnter,
                &count_hash(KEY_LOG2_ARG0, Add::Atomic),
            )],
        ),
        compile("syscall:enter { @ = hist(args.arg0); }"),
    ];
    let values: [u64; 9] = [0, 1, 2, 3, 4, 1023, 1024, u64::MAX, 1 << 40];
    let mut want = std::collections::BTreeMap::new();
    for v in values {
        *want.entry(bucket(v)).or_insert(0u64) += 1;
    }
    for o in &objects {
        let id = load_jit(o).unwrap();
        for v in values {
            syscall(0, v);
        }
        assert_eq!(totals(id, 0), want, "{:?}", o.maps[0].kind);
        drop(detach(id).unwrap());
    }
}

#[test]
fn kernel_verifier_rejections_carry_code_instruction_and_span() {
    let (_g, _) = setup();
    let before = memory_in_use();
    let mut p = program(AttachPoint::CapAlloc, "r0 = 0\nr0 += r2\nexit\n");
    p.lines = vec![
        LineEntry {
            insn: InsnIdx(0),
            span: Span { start: 0, end: 10 },
        },
        LineEntry {
            insn: InsnIdx(1),
            span: Span { start: 11, end: 30 },
        },
    ];
    let e = load_jit(&obj(vec![map("@", MapKind::Hash, 8, 8, 1000)], vec![p])).unwrap_err();
    match &e {
        LoadError::Verify {
            program,
            code,
            insn,
            span,
            message,
            ..
        } => {
            assert_eq!((*program, *insn), (0, 1));
            assert!(code.starts_with('V'), "{code}");
            assert_eq!(*span, Some(Span { start: 11, end: 30 }));
            assert!(message.contains("r0 += r2"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The error travels over the control channel as it is.
    let wire = postcard::to_allocvec(&e).unwrap();
    assert_eq!(postcard::from_bytes::<LoadError>(&wire).unwrap(), e);
    assert_eq!(memory_in_use(), before);
    assert!(!is_armed(AttachPoint::CapAlloc));
}

/// BEGIN and END print records; syscall:enter prints `{kind 1, id 0, nr}`
/// and, from a bad user pointer, the error `probe_read_user` returned.
const PRINT: &str = "
    r6 = r1
    r1 = 1
    *(u32 *)(r10 - 24) = r1
    r1 = 0
    *(u32 *)(r10 - 20) = r1
    r1 = *(u64 *)(r6 + 24)
    *(u64 *)(r10 - 16) = r1
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = *(u64 *)(r6 + 32)
    call probe_read_user
    if r0 == 0 goto out
    *(u64 *)(r10 - 8) = r0
out:
    r2 = r10
    r2 += -24
    r3 = 24
    r4 = 0
    r1 = map[0] ll
    call ringbuf_output
    r0 = 0
    exit
";

#[test]
fn jit_ring_buffer_begin_end_and_faulting_reads() {
    let (_g, p) = setup();
    p.map_user(0x5000_0000, 0xdead_beef_u64.to_le_bytes().to_vec());
    let id = load_jit(&obj(
        vec![map("printf", MapKind::RingBuf, 0, 0, 4096)],
        vec![
            program(AttachPoint::Begin, &mark(0)),
            program(AttachPoint::SyscallEnter, PRINT),
            program(AttachPoint::End, &mark(0)),
        ],
    ))
    .unwrap();
    syscall(11, 0x5000_0000);
    syscall(12, 0xffff_8000_0000_0000);
    syscall(13, 8);
    let d = detach(id).unwrap();
    let recs = d.drain_ringbuf(0, 1 << 16).unwrap().records;
    let efault = (-14i64) as u64;
    assert_eq!(recs.len(), 5);
    assert_eq!(u64s(&recs[0]), [5]);
    assert_eq!(u64s(&recs[1]), [1, 11, 0xdead_beef]);
    assert_eq!(u64s(&recs[2]), [1, 12, efault]);
    assert_eq!(u64s(&recs[3]), [1, 13, efault]);
    assert_eq!(u64s(&recs[4]), [5]);
    p.unmap_user();
}

/// `@[ustack] = count()` in miniature: the stack id as the key.
const STACKS: &str = "
    r6 = r1
    r2 = map[1] ll
    r3 = 256
    call get_stackid
    *(u64 *)(r10 - 8) = r0
    r2 = r10
    r2 += -8
    r3 = r10
    r3 += -8
    r4 = 0
    r1 = map[0] ll
    call map_update_elem
    r0 = 0
    exit
";

#[test]
fn jit_user_stacks_get_stable_ids() {
    let (_g, _) = setup();
    let id = load_jit(&obj(
        vec![
            map("@", MapKind::Hash, 8, 8, 16),
            map("stacks", MapKind::StackTrace, 4, 8 * 16, 64),
        ],
        vec![program(AttachPoint::SyscallEnter, STACKS)],
    ))
    .unwrap();
    HostPlatform::set_stacks(&[0x40_1000, 0x40_2000], &[]);
    syscall(0, 0);
    syscall(0, 0);
    HostPlatform::set_stacks(&[0x40_3000], &[]);
    syscall(0, 0);
    let d = detach(id).unwrap();
    let ids: Vec<u64> = d
        .map(0)
        .unwrap()
        .read_all()
        .unwrap()
        .iter()
        .map(|e| u64s(&e.key)[0])
        .collect();
    assert_eq!(ids.len(), 2, "two distinct stacks: {ids:?}");
    let stacks = d.map(1).unwrap().read_all().unwrap();
    let mut frames: Vec<Vec<u64>> = stacks
        .iter()
        .map(|e| u64s(&e.value).into_iter().filter(|&f| f != 0).collect())
        .collect();
    frames.sort();
    assert_eq!(frames, [vec![0x40_1000, 0x40_2000], vec![0x40_3000]]);
}
