//! Threads as CPUs: firing against attach and detach, and firing against
//! the host reading, deleting and draining maps.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::*};
use std::sync::{Arc, Barrier};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::consts::errno;
use capscope_bytecode::abi::context::{CapSlotCtx, SyscallEnterCtx};
use capscope_bytecode::abi::helpers::{HelperFn, id};
use capscope_bytecode::insn::HelperId;
use capscope_bytecode::object::MapKind;
use capscope_kernel_hooks::*;
use common::*;

fn call(h: HelperId, a: [u64; 5]) -> u64 {
    let f: HelperFn = helpers::helper(h).unwrap();
    // SAFETY: callers pass arguments of the helper's declared types.
    unsafe { f(a[0], a[1], a[2], a[3], a[4]) }
}

const SLOTS: usize = 8;
const FREE: u8 = 0;
const LIVE: u8 = 1;
const FREED: u8 = 2;
static STATE: [AtomicU8; SLOTS] = [const { AtomicU8::new(FREE) }; SLOTS];
static VIOLATIONS: AtomicU64 = AtomicU64::new(0);
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The program of slot `S`: checks, before and after a short spin, that
/// its code's owner has not been dropped.
extern "C" fn slot_prog<const S: usize>(ctx: *const u8, _cpu: u64) -> u64 {
    if STATE[S].load(SeqCst) != LIVE {
        VIOLATIONS.fetch_add(1, SeqCst);
    }
    // SAFETY: every point here passes a context of at least 24 bytes.
    let ts = unsafe { (ctx as *const u64).read_unaligned() };
    for _ in 0..(ts % 16) {
        std::hint::spin_loop();
    }
    if STATE[S].load(SeqCst) != LIVE {
        VIOLATIONS.fetch_add(1, SeqCst);
    }
    RUNS.fetch_add(1, Relaxed);
    0
}

/// Dropped with the program's code: from then on, nothing may run it.
struct Owner(usize);
impl Drop for Owner {
    fn drop(&mut self) {
        STATE[self.0].store(FREED, SeqCst);
    }
}

const PROGS: [ProgFn; SLOTS] = [
    slot_prog::<0>,
    slot_prog::<1>,
    slot_prog::<2>,
    slot_prog::<3>,
    slot_prog::<4>,
    slot_prog::<5>,
    slot_prog::<6>,
    slot_prog::<7>,
];

fn firing_threads(n: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..n)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut fired = 0u64;
                while !stop.load(Relaxed) {
                    fire(AttachPoint::SyscallEnter, || SyscallEnterCtx {
                        header: capscope_bytecode::abi::context::EventHeader {
                            timestamp_ns: fired,
                            ..Default::default()
                        },
                        nr: t as u64,
                        ..Default::default()
                    });
                    fire(AttachPoint::CapAlloc, CapSlotCtx::default);
                    fired += 2;
                    // Time outside any firing, as a kernel has between
                    // events; it also makes an OS preemption inside a
                    // firing (which a grace period must wait out) rarer.
                    for _ in 0..200 {
                        std::hint::spin_loop();
                    }
                }
                fired
            })
        })
        .collect()
}

#[test]
fn detach_waits_for_every_firing_that_could_run_the_program() {
    let (_g, _) = setup();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = firing_threads(2, &stop);
    let mut live = std::collections::VecDeque::new();
    let mut counted = 0u64;
    // At least 1000 attach/detach rounds, and enough runs that many of them
    // overlapped a detach (bounded in time on a loaded machine).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut i = 0;
    while i < 1000 || (RUNS.load(Relaxed) < 50_000 && std::time::Instant::now() < deadline) {
        i += 1;
        let s = i % SLOTS;
        if live.len() >= SLOTS - 1 {
            let d: Detached = detach(live.pop_front().unwrap()).unwrap();
            counted += d.info().programs.iter().map(|p| p.runs).sum::<u64>();
        }
        // The slot's previous occupant was detached and dropped above.
        assert_ne!(STATE[s].load(SeqCst), LIVE);
        STATE[s].store(LIVE, SeqCst);
        let o = obj(
            vec![],
            vec![
                prog("syscall:enter", AttachPoint::SyscallEnter),
                prog("cap:alloc", AttachPoint::CapAlloc),
            ],
        );
        let id = load_object(&o, &mut |_: &_, _: usize, _: &[u64]| {
            Ok(native_with(PROGS[s], Box::new(Owner(s))))
        })
        .unwrap();
        live.push_back(id);
    }
    for id in live {
        counted += detach(id)
            .unwrap()
            .info()
            .programs
            .iter()
            .map(|p| p.runs)
            .sum::<u64>();
    }
    stop.store(true, Relaxed);
    let fired: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        VIOLATIONS.load(SeqCst),
        0,
        "a program ran after its code was freed"
    );
    assert_eq!(
        counted,
        RUNS.load(Relaxed),
        "run counts add up to the runs that happened"
    );
    assert!(
        RUNS.load(Relaxed) > 1000,
        "the threads really fired ({fired} events)"
    );
}

static COUNTS: AtomicU64 = AtomicU64::new(0);
static SHARED: AtomicU64 = AtomicU64::new(0);
static RING: AtomicU64 = AtomicU64::new(0);

/// `@c[nr % 16] = count()` into a per-CPU hash, `@s[nr % 16] += 1` into a
/// shared hash (atomically, as the language's aggregations do), and a
/// sequence-numbered record into the ring buffer.
extern "C" fn aggregate(ctx: *const u8, _cpu: u64) -> u64 {
    // SAFETY: syscall:enter contexts are `SyscallEnterCtx`.
    let ctx = unsafe { &*(ctx as *const SyscallEnterCtx) };
    let key = (ctx.nr % 16).to_le_bytes();
    for (map, per_cpu) in [(COUNTS.load(Relaxed), true), (SHARED.load(Relaxed), false)] {
        let v = call(id::MAP_LOOKUP_ELEM, [map, key.as_ptr() as u64, 0, 0, 0]);
        if v != 0 {
            if per_cpu {
                // SAFETY: this CPU's 8-byte value; no other CPU writes it.
                unsafe { *(v as *mut u64) += 1 };
            } else {
                // SAFETY: an aligned 8-byte value, written atomically by all.
                unsafe { AtomicU64::from_ptr(v as *mut u64) }.fetch_add(1, Relaxed);
            }
        } else {
            let one = 1u64.to_le_bytes();
            // NOEXIST: if another CPU inserted meanwhile, add to its entry.
            let r = call(
                id::MAP_UPDATE_ELEM,
                [map, key.as_ptr() as u64, one.as_ptr() as u64, 1, 0],
            );
            // Any other failure (a bucket lock the host held for too long)
            // dropped the event, and the map counted the drop.
            if r == errno::EEXIST.wrapping_neg() {
                let v = call(id::MAP_LOOKUP_ELEM, [map, key.as_ptr() as u64, 0, 0, 0]);
                assert_ne!(v, 0, "the key another CPU inserted is there");
                // SAFETY: as above.
                unsafe { AtomicU64::from_ptr(v as *mut u64) }.fetch_add(1, Relaxed);
            }
        }
    }
    let rec = [ctx.nr, ctx.header.timestamp_ns];
    call(
        id::RINGBUF_OUTPUT,
        [RING.load(Relaxed), rec.as_ptr() as u64, 16, 0, 0],
    );
    0
}

#[test]
fn host_reads_and_drains_while_cpus_fire() {
    let (_g, _) = setup();
    let o = obj(
        vec![
            map("@c", MapKind::PerCpuHash, 8, 8, 16),
            map("@s", MapKind::Hash, 8, 8, 16),
            map("r", MapKind::RingBuf, 0, 0, 1 << 14),
        ],
        vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
    );
    let id = load_object(
        &o,
        &mut engine(|_, h| {
            COUNTS.store(h[0], Relaxed);
            SHARED.store(h[1], Relaxed);
            RING.store(h[2], Relaxed);
            aggregate
        }),
    )
    .unwrap();
    let per_thread = 20_000u64;
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for i in 0..per_thread {
                    fire(AttachPoint::SyscallEnter, || SyscallEnterCtx {
                        header: capscope_bytecode::abi::context::EventHeader {
                            timestamp_ns: i,
                            ..Default::default()
                        },
                        nr: t,
                        ..Default::default()
                    });
                }
            })
        })
        .collect();
    start.wait();
    // Meanwhile the host reads both maps and drains the ring buffer.
    let mut last_seq = [None::<u64>; 3];
    let mut records = 0u64;
    let mut drain = |last_seq: &mut [Option<u64>; 3]| {
        let d = drain_ringbuf(id, 2, 1 << 20).unwrap();
        for r in &d.records {
            let t = u64::from_le_bytes(r[..8].try_into().unwrap()) as usize;
            let seq = u64::from_le_bytes(r[8..16].try_into().unwrap());
            assert!(
                last_seq[t].is_none_or(|l| seq > l),
                "records of one CPU arrive in order"
            );
            last_seq[t] = Some(seq);
        }
        records += d.records.len() as u64;
    };
    while !threads.iter().all(|t| t.is_finished()) {
        let _ = read_map(id, 0, 0, 64).unwrap();
        let _ = read_map(id, 1, 0, 64).unwrap();
        drain(&mut last_seq);
    }
    threads.into_iter().for_each(|t| t.join().unwrap());
    drain(&mut last_seq);

    let sum = |map: u32| -> u64 {
        read_map(id, map, 0, 64)
            .unwrap()
            .page
            .entries
            .iter()
            .flat_map(|e| {
                e.value
                    .chunks(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    let total = 3 * per_thread;
    let o = object(id).unwrap();
    let drops = |m: u32| o.map(m).unwrap().drops();
    assert_eq!(sum(0) + drops(0), total, "per-CPU counts plus drops");
    assert_eq!(sum(1) + drops(1), total, "shared counts plus drops");
    assert_eq!(records + drops(2), total, "records received plus drops");
    assert!(records > 0);
    drop(o);
    drop(detach(id).unwrap());
}

#[test]
fn jit_code_is_unmapped_only_after_the_last_firing() {
    let (_g, _) = setup();
    // `@ = count()` into a per-CPU hash, as keyed aggregations lower.
    let p = program(
        AttachPoint::SyscallEnter,
        &count_hash(KEY_ZERO, Add::Atomic),
    );
    let o = obj(
        vec![map("@", MapKind::PerCpuHash, 8, 8, 4)],
        vec![p.clone(), {
            let mut q = p;
            q.attach.point = AttachPoint::CapAlloc;
            q.name = "cap:alloc".into();
            q
        }],
    );
    let mut mem = HostCodeMemory;
    let opts = JitOptions {
        verify_clif: false,
        ..JitOptions::host()
    };
    let mut engine = JitEngine::new(&opts, &mut mem).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = firing_threads(2, &stop);
    let (mut runs, mut counted) = (0u64, 0u64);
    // Detach (a firing still inside unmapped code would crash the test)
    // and add up the runs and what they counted.
    let mut retire = |id| {
        let d = detach(id).unwrap();
        runs += d.info().programs.iter().map(|p| p.runs).sum::<u64>();
        counted += d
            .map(0)
            .unwrap()
            .read_all()
            .unwrap()
            .iter()
            .flat_map(|e| u64s(&e.value))
            .sum::<u64>();
    };
    let mut live = std::collections::VecDeque::new();
    for _ in 0..400 {
        if live.len() >= 3 {
            retire(live.pop_front().unwrap());
        }
        live.push_back(load_object(&o, &mut engine).unwrap());
    }
    live.into_iter().for_each(&mut retire);
    stop.store(true, Relaxed);
    threads.into_iter().for_each(|t| {
        t.join().unwrap();
    });
    assert!(runs > 0);
    assert_eq!(
        counted, runs,
        "every run of the compiled code is in its map, and in its statistics"
    );
}
