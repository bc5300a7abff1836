//! Loading, attaching, firing and detaching with native programs: several
//! objects per point, BEGIN/END/interval, statistics, limits, and failed
//! loads leaving nothing behind.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Duration;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::context::{CapSlotCtx, EventHeader, SyscallEnterCtx};
use capscope_bytecode::abi::helpers::{HelperFn, id};
use capscope_bytecode::insn::HelperId;
use capscope_bytecode::object::MapKind;
use capscope_kernel_hooks::*;
use common::*;

static A_RUNS: AtomicU64 = AtomicU64::new(0);
static B_RUNS: AtomicU64 = AtomicU64::new(0);
static RING: AtomicU64 = AtomicU64::new(0);
static COUNTS: AtomicU64 = AtomicU64::new(0);

fn call(h: HelperId, a: [u64; 5]) -> u64 {
    let f: HelperFn = helpers::helper(h).unwrap();
    // SAFETY: callers pass arguments of the helper's declared types.
    unsafe { f(a[0], a[1], a[2], a[3], a[4]) }
}

extern "C" fn prog_a(_: *const u8, _cpu: u64) -> u64 {
    A_RUNS.fetch_add(1, Relaxed);
    0
}
extern "C" fn prog_b(_: *const u8, _cpu: u64) -> u64 {
    B_RUNS.fetch_add(1, Relaxed);
    0
}

/// `@[0] = count()` into a per-CPU array, as the language lowers it.
extern "C" fn count(_: *const u8, _cpu: u64) -> u64 {
    let key = 0u32;
    let v = call(
        id::MAP_LOOKUP_ELEM,
        [COUNTS.load(Relaxed), &key as *const u32 as u64, 0, 0, 0],
    );
    if v != 0 {
        // SAFETY: a non-null lookup result points at this CPU's 8-byte value.
        unsafe { *(v as *mut u64) += 1 };
    }
    0
}

fn say(what: &[u8]) {
    call(
        id::RINGBUF_OUTPUT,
        [
            RING.load(Relaxed),
            what.as_ptr() as u64,
            what.len() as u64,
            0,
            0,
        ],
    );
}
extern "C" fn begin(_: *const u8, _cpu: u64) -> u64 {
    say(b"begin");
    0
}
extern "C" fn event(_: *const u8, _cpu: u64) -> u64 {
    say(b"event");
    0
}
extern "C" fn end(_: *const u8, _cpu: u64) -> u64 {
    say(b"end");
    0
}

fn syscall() {
    fire(AttachPoint::SyscallEnter, SyscallEnterCtx::default);
}

#[test]
fn nothing_attached_builds_no_context() {
    let (_g, _) = setup();
    assert!(!is_armed(AttachPoint::CapInvoke));
    fire(
        AttachPoint::CapInvoke,
        || -> capscope_bytecode::abi::context::CapInvokeCtx {
            panic!("the context was built with nothing attached")
        },
    );
}

#[test]
fn objects_share_points_and_detach_as_units() {
    let (_g, _) = setup();
    let a = load_object(
        &obj(
            vec![],
            vec![
                prog("syscall:enter", AttachPoint::SyscallEnter),
                prog("cap:alloc", AttachPoint::CapAlloc),
            ],
        ),
        &mut engine(|_, _| prog_a),
    )
    .unwrap();
    let b = load_object(
        &obj(
            vec![],
            vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
        ),
        &mut engine(|_, _| prog_b),
    )
    .unwrap();
    assert_ne!(a, b);
    let (a0, b0) = (A_RUNS.load(Relaxed), B_RUNS.load(Relaxed));
    for _ in 0..3 {
        syscall();
    }
    fire(AttachPoint::CapAlloc, CapSlotCtx::default);
    assert_eq!(A_RUNS.load(Relaxed) - a0, 4);
    assert_eq!(B_RUNS.load(Relaxed) - b0, 3);
    let infos = list();
    let ia = infos.iter().find(|o| o.id == a).unwrap();
    assert_eq!(
        ia.programs
            .iter()
            .map(|p| (p.point, p.runs))
            .collect::<Vec<_>>(),
        [(AttachPoint::SyscallEnter, 3), (AttachPoint::CapAlloc, 1)]
    );
    assert!(is_armed(AttachPoint::CapAlloc));

    let d = detach(a).unwrap();
    assert_eq!(d.info().programs[0].runs, 3);
    assert!(!is_armed(AttachPoint::CapAlloc), "the unit went away");
    assert!(is_armed(AttachPoint::SyscallEnter), "b is still there");
    syscall();
    fire(AttachPoint::CapAlloc, CapSlotCtx::default);
    assert_eq!(A_RUNS.load(Relaxed) - a0, 4);
    assert_eq!(B_RUNS.load(Relaxed) - b0, 4);
    assert!(matches!(detach(a), Err(HostError::NoSuchObject(_))));
    drop(detach(b).unwrap());
    assert!(!is_armed(AttachPoint::SyscallEnter));
    assert!(list().is_empty());
}

#[test]
fn begin_runs_at_attach_and_end_output_is_drainable_after_detach() {
    let (_g, _) = setup();
    let o = obj(
        vec![map("ring", MapKind::RingBuf, 0, 0, 4096)],
        vec![
            prog("END", AttachPoint::End),
            prog("syscall:enter", AttachPoint::SyscallEnter),
            prog("BEGIN", AttachPoint::Begin),
        ],
    );
    let fns = [end, event, begin];
    let id = load_object(
        &o,
        &mut engine(|i, h| {
            RING.store(h[0], Relaxed);
            fns[i]
        }),
    )
    .unwrap();
    let first = drain_ringbuf(id, 0, 1 << 16).unwrap();
    assert_eq!(
        first.records,
        [b"begin".to_vec()],
        "BEGIN ran once, before any event"
    );
    syscall();
    syscall();
    let d = detach(id).unwrap();
    let rest = d.drain_ringbuf(0, 1 << 16).unwrap();
    assert_eq!(
        rest.records,
        [b"event".to_vec(), b"event".to_vec(), b"end".to_vec()]
    );
    assert!(!rest.more);
    let info = d.info();
    assert_eq!(
        info.programs.iter().map(|p| p.runs).collect::<Vec<_>>(),
        [1, 2, 1]
    );
}

#[test]
fn interval_programs_run_once_per_period_from_tick() {
    let (_g, _) = setup();
    let id = load_object(
        &obj(vec![], vec![interval("interval:ms:20", 20_000_000)]),
        &mut engine(|_, _| prog_a),
    )
    .unwrap();
    assert!(is_armed(AttachPoint::Interval));
    let runs = || object(id).unwrap().info().programs[0].runs;
    tick();
    assert_eq!(runs(), 0, "not due yet");
    std::thread::sleep(Duration::from_millis(25));
    tick();
    tick();
    assert_eq!(
        runs(),
        1,
        "one run per period, however often the timer ticks"
    );
    std::thread::sleep(Duration::from_millis(65));
    tick();
    assert_eq!(runs(), 2, "missed periods are skipped, not replayed");
    drop(detach(id).unwrap());
    assert!(!is_armed(AttachPoint::Interval));
}

#[test]
fn per_cpu_count_and_statistics() {
    let (_g, _) = setup();
    set_timing_sample(0);
    let id = load_object(
        &obj(
            vec![map("@", MapKind::PerCpuArray, 4, 8, 1)],
            vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
        ),
        &mut engine(|_, h| {
            COUNTS.store(h[0], Relaxed);
            count
        }),
    )
    .unwrap();
    for _ in 0..1000 {
        syscall();
    }
    // Another thread is another CPU.
    std::thread::spawn(|| {
        for _ in 0..500 {
            syscall();
        }
    })
    .join()
    .unwrap();
    let r = read_map(id, 0, 0, 10).unwrap();
    assert_eq!(r.values_per_entry, 4);
    let per_cpu: Vec<u64> = r.page.entries[0]
        .value
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut sorted = per_cpu.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 0, 500, 1000], "{per_cpu:?}");
    let p = &object(id).unwrap().info().programs[0];
    assert_eq!((p.runs, p.timed_runs), (1500, 1500));
    assert!(p.run_ns > 0);
    set_timing_sample(6);
    zero_map(id, 0).unwrap();
    assert!(
        read_map(id, 0, 0, 10).unwrap().page.entries[0]
            .value
            .iter()
            .all(|&b| b == 0)
    );
    drop(detach(id).unwrap());
}

extern "C" fn refire(_: *const u8, _cpu: u64) -> u64 {
    A_RUNS.fetch_add(1, Relaxed);
    // A helper's page fault, say, raising an event while a program runs.
    fire(AttachPoint::SyscallEnter, SyscallEnterCtx::default);
    0
}

#[test]
fn nested_and_misshapen_events_are_missed_not_run() {
    let (_g, _) = setup();
    let id = load_object(
        &obj(
            vec![],
            vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
        ),
        &mut engine(|_, _| refire),
    )
    .unwrap();
    let (runs0, missed0) = (A_RUNS.load(Relaxed), missed(AttachPoint::SyscallEnter));
    syscall();
    assert_eq!(
        A_RUNS.load(Relaxed) - runs0,
        1,
        "the nested event did not re-enter"
    );
    assert_eq!(missed(AttachPoint::SyscallEnter) - missed0, 1);
    // A context of the wrong size for the point is refused.
    fire(AttachPoint::SyscallEnter, EventHeader::default);
    assert_eq!(A_RUNS.load(Relaxed) - runs0, 1);
    assert_eq!(missed(AttachPoint::SyscallEnter) - missed0, 2);
    assert!(
        status()
            .missed
            .contains(&(AttachPoint::SyscallEnter, missed(AttachPoint::SyscallEnter)))
    );
    drop(detach(id).unwrap());
}

#[test]
fn the_memory_limit_refuses_a_load_with_a_clear_error() {
    let (_g, _) = setup();
    let before = memory_in_use();
    set_memory_limit(before + 100_000);
    let o = obj(
        vec![map("@big", MapKind::Hash, 64, 64, 100_000)],
        vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
    );
    let e = load_object(&o, &mut engine(|_, _| nop)).unwrap_err();
    set_memory_limit(DEFAULT_MEMORY_LIMIT);
    match &e {
        LoadError::MemoryLimit {
            requested,
            in_use,
            limit,
        } => {
            assert!(*requested > 100_000 * 128);
            assert_eq!((*in_use, *limit), (before, before + 100_000));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("probe memory limit"), "{e}");
    assert_eq!(memory_in_use(), before);
    assert!(!is_armed(AttachPoint::SyscallEnter));
}

#[test]
fn a_failed_load_leaves_nothing_behind() {
    let (_g, _) = setup();
    let before = memory_in_use();
    let o = obj(
        vec![
            map("@a", MapKind::Hash, 8, 8, 1000),
            map("r", MapKind::RingBuf, 0, 0, 8192),
        ],
        vec![
            prog("BEGIN", AttachPoint::Begin),
            prog("cap:map", AttachPoint::CapMap),
            prog("cap:free", AttachPoint::CapFree),
        ],
    );
    let begun = A_RUNS.load(Relaxed);
    let e = load_object(&o, &mut |_: &_, i: usize, _: &[u64]| {
        if i == 2 {
            Err(LoadError::Verify {
                program: 2,
                name: "cap:free".into(),
                code: "V042".into(),
                insn: 7,
                message: "R1 is not readable".into(),
                state: "R1=?".into(),
                span: None,
            })
        } else {
            Ok(native(prog_a))
        }
    })
    .unwrap_err();
    assert!(matches!(e, LoadError::Verify { code, insn: 7, .. } if code == "V042"));
    assert_eq!(
        A_RUNS.load(Relaxed),
        begun,
        "BEGIN did not run for a failed load"
    );
    assert_eq!(memory_in_use(), before);
    assert!(!is_armed(AttachPoint::CapMap));
    assert!(list().is_empty());

    let e = load(b"CSPO\x01\x00garbage", &mut engine(|_, _| nop)).unwrap_err();
    assert!(matches!(e, LoadError::Object { .. }), "{e:?}");
}

#[test]
fn host_errors_name_what_is_wrong() {
    let (_g, _) = setup();
    let id = load_object(
        &obj(
            vec![
                map("@h", MapKind::Hash, 8, 8, 4),
                map("r", MapKind::RingBuf, 0, 0, 4096),
            ],
            vec![prog("cap:unmap", AttachPoint::CapUnmap)],
        ),
        &mut engine(|_, _| nop),
    )
    .unwrap();
    assert_eq!(
        read_map(ObjectId(9999), 0, 0, 1).unwrap_err(),
        HostError::NoSuchObject(ObjectId(9999))
    );
    assert_eq!(
        read_map(id, 5, 0, 1).unwrap_err(),
        HostError::NoSuchMap { object: id, map: 5 }
    );
    assert_eq!(
        read_map(id, 1, 0, 1).unwrap_err(),
        HostError::WrongKind {
            kind: MapKind::RingBuf
        }
    );
    assert_eq!(
        drain_ringbuf(id, 0, 1).unwrap_err(),
        HostError::WrongKind {
            kind: MapKind::Hash
        }
    );
    assert_eq!(delete_key(id, 0, &[1; 8]), Err(HostError::NoSuchKey));
    assert_eq!(
        update_key(id, 0, &[1; 8], &[2; 4]),
        Err(HostError::ValueSize {
            expected: 8,
            got: 4
        })
    );
    update_key(id, 0, &[1; 8], &[2; 8]).unwrap();
    assert_eq!(read_map(id, 0, 0, 10).unwrap().page.entries.len(), 1);
    clear_map(id, 0).unwrap();
    assert!(read_map(id, 0, 0, 10).unwrap().page.entries.is_empty());
    drop(detach(id).unwrap());
}

#[test]
fn too_many_objects_is_an_error_and_ids_are_not_reused() {
    let (_g, _) = setup();
    let mut ids = Vec::new();
    for _ in 0..registry::MAX_OBJECTS {
        ids.push(
            load_object(
                &obj(vec![], vec![prog("cap:invoke", AttachPoint::CapInvoke)]),
                &mut engine(|_, _| nop),
            )
            .unwrap(),
        );
    }
    let e = load_object(
        &obj(vec![], vec![prog("cap:invoke", AttachPoint::CapInvoke)]),
        &mut engine(|_, _| nop),
    )
    .unwrap_err();
    assert_eq!(
        e,
        LoadError::TooManyObjects {
            limit: registry::MAX_OBJECTS as u32
        }
    );
    assert_eq!(status().objects as usize, registry::MAX_OBJECTS);
    let last = *ids.last().unwrap();
    for id in ids {
        drop(detach(id).unwrap());
    }
    let again = load_object(&obj(vec![], vec![]), &mut engine(|_, _| nop)).unwrap();
    assert!(again > last);
    drop(detach(again).unwrap());
}
