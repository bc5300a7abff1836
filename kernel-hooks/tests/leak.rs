//! Loading, attaching, firing and detaching 10,000 times leaks nothing:
//! a counting global allocator compares live heap bytes before and after.
//! Also checks that what an object is charged matches what it allocates.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::*};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::context::{CapSlotCtx, SyscallEnterCtx};
use capscope_bytecode::abi::helpers::{HelperFn, id};
use capscope_bytecode::object::MapKind;
use capscope_kernel_hooks::*;
use common::*;

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size() as i64, Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_add(new as i64 - l.size() as i64, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static H: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

fn call(h: capscope_bytecode::insn::HelperId, a: [u64; 5]) -> u64 {
    let f: HelperFn = helpers::helper(h).unwrap();
    // SAFETY: callers pass arguments of the helper's declared types.
    unsafe { f(a[0], a[1], a[2], a[3], a[4]) }
}

/// Touches every map: an update into each hash-like map and array, a
/// stack id, a ring-buffer record.
extern "C" fn touch_all(_: *const u8, _cpu: u64) -> u64 {
    let k8 = 7u64.to_le_bytes();
    let k4 = 1u32.to_le_bytes();
    let v = 1u64.to_le_bytes();
    for (i, key) in [
        (0, &k8[..]),
        (1, &k4[..]),
        (2, &k8[..]),
        (3, &k4[..]),
        (4, &k8[..]),
    ] {
        call(
            id::MAP_UPDATE_ELEM,
            [
                H[i].load(Relaxed),
                key.as_ptr() as u64,
                v.as_ptr() as u64,
                0,
                0,
            ],
        );
    }
    call(id::GET_STACKID, [0, H[5].load(Relaxed), 0, 0, 0]);
    call(
        id::RINGBUF_OUTPUT,
        [H[6].load(Relaxed), v.as_ptr() as u64, 8, 0, 0],
    );
    0
}

fn bytes() -> Vec<u8> {
    obj(
        vec![
            map("@h", MapKind::Hash, 8, 8, 64),
            map("@a", MapKind::Array, 4, 8, 16),
            map("@pch", MapKind::PerCpuHash, 8, 8, 64),
            map("@pca", MapKind::PerCpuArray, 4, 8, 4),
            map("@lru", MapKind::LruHash, 8, 8, 32),
            map("@st", MapKind::StackTrace, 4, 64, 32),
            map("rb", MapKind::RingBuf, 0, 0, 4096),
        ],
        vec![
            prog("BEGIN", AttachPoint::Begin),
            prog("syscall:enter", AttachPoint::SyscallEnter),
            prog("cap:alloc", AttachPoint::CapAlloc),
            interval("interval:ms:1", 1_000_000),
            prog("END", AttachPoint::End),
        ],
    )
    .to_bytes()
}

fn cycle(bytes: &[u8]) {
    let id = load(
        bytes,
        &mut engine(|_, h| {
            for (slot, handle) in H.iter().zip(h) {
                slot.store(*handle, Relaxed);
            }
            touch_all
        }),
    )
    .unwrap();
    fire(AttachPoint::SyscallEnter, SyscallEnterCtx::default);
    fire(AttachPoint::CapAlloc, CapSlotCtx::default);
    tick();
    let d = detach(id).unwrap();
    let n = d.drain_ringbuf(6, 1 << 16).unwrap().records.len();
    // BEGIN, two events and END, and the interval program if 1 ms passed.
    assert!(n == 4 || n == 5, "{n} records");
}

#[test]
fn ten_thousand_load_detach_cycles_leak_nothing() {
    let (_g, _) = setup();
    HostPlatform::set_stacks(&[1, 2, 3], &[4, 5]);
    let bytes = bytes();
    // Warm up lazily built state (thread-locals, the CPU table, the first
    // snapshot), then measure.
    cycle(&bytes);
    let charged0 = memory_in_use();
    let live0 = LIVE.load(SeqCst);

    // What one object is charged matches what it allocates.
    let id = load(&bytes, &mut engine(|_, _| nop)).unwrap();
    let (charged, allocated) = (memory_in_use() - charged0, LIVE.load(SeqCst) - live0);
    drop(detach(id).unwrap());
    assert!(
        charged as i64 <= allocated,
        "charged {charged} > allocated {allocated}"
    );
    assert!(
        allocated - (charged as i64) < 4096,
        "charged {charged}, allocated {allocated}"
    );

    for _ in 0..10_000 {
        cycle(&bytes);
    }
    assert_eq!(
        LIVE.load(SeqCst),
        live0,
        "live heap bytes after 10,000 cycles"
    );
    assert_eq!(memory_in_use(), charged0);
    assert!(list().is_empty());

    // The same through the real engine: decode, verify, JIT (code memory
    // is mmap'd and unmapped), attach, fire, END, detach.
    // One engine, as the kernel keeps one: its compiler's scratch buffers
    // reach their size in the warm-up cycles and are reused after.
    let jit = jit_bytes();
    let mut mem = HostCodeMemory;
    // Cranelift's IR self-check is for debugging the JIT, not this test.
    let opts = JitOptions {
        verify_clif: false,
        ..JitOptions::host()
    };
    let mut engine = JitEngine::new(&opts, &mut mem).unwrap();
    for _ in 0..3 {
        jit_cycle(&jit, &mut engine);
    }
    let live1 = LIVE.load(SeqCst);
    // Fewer cycles than above (each compiles three programs); the loader
    // path is the same, this adds the JIT's code memory.
    let t = std::time::Instant::now();
    for _ in 0..2_000 {
        jit_cycle(&jit, &mut engine);
    }
    let took = t.elapsed();
    assert_eq!(
        LIVE.load(SeqCst),
        live1,
        "live heap bytes after 2,000 verified, compiled cycles"
    );
    assert_eq!(memory_in_use(), charged0);
    // Printing allocates (the harness captures it), so only after measuring.
    eprintln!("2,000 verified, compiled cycles in {took:?}");
}

/// BEGIN and END write a record; syscall:enter counts by syscall number.
fn jit_bytes() -> Vec<u8> {
    let progs = vec![
        program(AttachPoint::Begin, &mark(1)),
        program(AttachPoint::SyscallEnter, &count_hash(KEY_NR, Add::Atomic)),
        program(AttachPoint::End, &mark(1)),
    ];
    obj(
        vec![
            map("@", MapKind::PerCpuHash, 8, 8, 16),
            map("rb", MapKind::RingBuf, 0, 0, 4096),
        ],
        progs,
    )
    .to_bytes()
}

fn jit_cycle(bytes: &[u8], engine: &mut JitEngine) {
    let id = load(bytes, engine).unwrap();
    fire(AttachPoint::SyscallEnter, SyscallEnterCtx::default);
    let d = detach(id).unwrap();
    assert_eq!(d.drain_ringbuf(1, 1 << 16).unwrap().records.len(), 2);
    assert_eq!(d.map(0).unwrap().read_all().unwrap().len(), 1);
}
