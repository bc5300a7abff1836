//! Every helper, called by native programs through `fire`, on the host
//! platform: return values, what lands in maps, and that bad addresses are
//! errors, never faults.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::*};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::consts::errno;
use capscope_bytecode::abi::context::{EventHeader, SyscallEnterCtx};
use capscope_bytecode::abi::helpers::{HelperFn, id, stack_flags};
use capscope_bytecode::object::MapKind;
use capscope_kernel_hooks::{HostPlatform, detach, fire, helpers::helper, load_object};
use common::*;

/// What the test program saw, per helper, for the test to check.
static OUT: Mutex<Vec<(&'static str, u64, Vec<u8>)>> = Mutex::new(Vec::new());
/// One stack map per distinct stack: stack maps are hashed by a seeded hash
/// and drop a colliding stack (`-EEXIST`, as Linux does), so sharing one map
/// would make the ids depend on the seed. Collisions are tested in the maps.
static KSTACKS: AtomicU64 = AtomicU64::new(0);
static USTACKS: AtomicU64 = AtomicU64::new(0);
static USTACKS_SKIP1: AtomicU64 = AtomicU64::new(0);
static RING: AtomicU64 = AtomicU64::new(0);
static USER_ADDR: AtomicU64 = AtomicU64::new(0);
static KERNEL_ADDR: AtomicU64 = AtomicU64::new(0);

fn call(h: u32, a: [u64; 5]) -> u64 {
    let f: HelperFn = helper(capscope_bytecode::insn::HelperId(h)).unwrap();
    // SAFETY: the arguments below follow each helper's declared types.
    unsafe { f(a[0], a[1], a[2], a[3], a[4]) }
}

fn record(name: &'static str, r: u64, bytes: &[u8]) {
    OUT.lock().unwrap().push((name, r, bytes.to_vec()));
}

extern "C" fn everything(ctx: *const u8, _cpu: u64) -> u64 {
    record("ktime", call(id::KTIME_GET_NS.0, [0; 5]), &[]);
    record("cpu", call(id::GET_SMP_PROCESSOR_ID.0, [0; 5]), &[]);
    record("pid_tgid", call(id::GET_CURRENT_PID_TGID.0, [0; 5]), &[]);
    let mut comm = [0xffu8; 8];
    let r = call(
        id::GET_CURRENT_COMM.0,
        [comm.as_mut_ptr() as u64, 8, 0, 0, 0],
    );
    record("comm8", r, &comm);
    let mut comm = [0xffu8; 20];
    let r = call(
        id::GET_CURRENT_COMM.0,
        [comm.as_mut_ptr() as u64, 20, 0, 0, 0],
    );
    record("comm20", r, &comm);

    let (kstacks, ustacks) = (KSTACKS.load(Relaxed), USTACKS.load(Relaxed));
    record(
        "kstack",
        call(id::GET_STACKID.0, [ctx as u64, kstacks, 0, 0, 0]),
        &[],
    );
    record(
        "kstack_again",
        call(id::GET_STACKID.0, [ctx as u64, kstacks, 0, 0, 0]),
        &[],
    );
    record(
        "ustack",
        call(
            id::GET_STACKID.0,
            [ctx as u64, ustacks, stack_flags::USER_STACK, 0, 0],
        ),
        &[],
    );
    record(
        "ustack_skip1",
        call(
            id::GET_STACKID.0,
            [
                ctx as u64,
                USTACKS_SKIP1.load(Relaxed),
                stack_flags::USER_STACK | 1,
                0,
                0,
            ],
        ),
        &[],
    );
    let stacks = kstacks;
    record(
        "ustack_skip_all",
        call(
            id::GET_STACKID.0,
            [ctx as u64, stacks, stack_flags::USER_STACK | 50, 0, 0],
        ),
        &[],
    );
    record(
        "stack_badflags",
        call(id::GET_STACKID.0, [ctx as u64, stacks, 1 << 20, 0, 0]),
        &[],
    );

    let mut buf = [0xffu8; 16];
    let ua = USER_ADDR.load(Relaxed);
    let r = call(
        id::PROBE_READ_USER.0,
        [buf.as_mut_ptr() as u64, 16, ua, 0, 0],
    );
    record("user_ok", r, &buf);
    let r = call(
        id::PROBE_READ_USER.0,
        [buf.as_mut_ptr() as u64, 16, ua + 24, 0, 0],
    );
    record("user_past_end", r, &buf);
    for (name, addr) in [
        ("user_null", 0u64),
        ("user_kernel_half", 0xffff_8000_0000_0000),
        ("user_noncanonical", 0x0000_9000_0000_0000),
        ("user_wraps", u64::MAX - 3),
    ] {
        let mut b = [0xffu8; 16];
        let r = call(
            id::PROBE_READ_USER.0,
            [b.as_mut_ptr() as u64, 16, addr, 0, 0],
        );
        record(name, r, &b);
    }
    let ka = KERNEL_ADDR.load(Relaxed);
    let mut b = [0xffu8; 8];
    let r = call(
        id::PROBE_READ_KERNEL.0,
        [b.as_mut_ptr() as u64, 8, ka, 0, 0],
    );
    record("kernel_ok", r, &b);
    let secret = [1u8; 8];
    let mut b = [0xffu8; 8];
    let r = call(
        id::PROBE_READ_KERNEL.0,
        [b.as_mut_ptr() as u64, 8, secret.as_ptr() as u64, 0, 0],
    );
    record("kernel_denied", r, &b);

    let msg = *b"hello ring";
    let ring = RING.load(Relaxed);
    record(
        "ring",
        call(
            id::RINGBUF_OUTPUT.0,
            [ring, msg.as_ptr() as u64, msg.len() as u64, 0, 0],
        ),
        &[],
    );
    record(
        "ring_badflags",
        call(id::RINGBUF_OUTPUT.0, [ring, msg.as_ptr() as u64, 4, 9, 0]),
        &[],
    );
    0
}

static KERNEL_BYTES: [u8; 8] = *b"kernel!!";

#[test]
fn every_helper_through_fire() {
    let (_g, p) = setup();
    HostPlatform::set_current(7, 9, "leaky-task-name-long");
    HostPlatform::set_stacks(
        &[0x40_1000, 0x40_2000, 0x40_3000],
        &[0xffff_ffff_8010_0000, 0xffff_ffff_8010_1000],
    );
    p.map_user(0x7000_0000, (0u8..32).collect());
    USER_ADDR.store(0x7000_0000, Relaxed);
    p.allow_kernel_read(&KERNEL_BYTES);
    KERNEL_ADDR.store(KERNEL_BYTES.as_ptr() as u64, Relaxed);

    let o = obj(
        vec![
            map("@kstacks", MapKind::StackTrace, 4, 8 * 8, 64),
            map("@ustacks", MapKind::StackTrace, 4, 8 * 8, 64),
            map("@ustacks_skip1", MapKind::StackTrace, 4, 8 * 8, 64),
            map("ring", MapKind::RingBuf, 0, 0, 4096),
        ],
        vec![prog("syscall:enter", AttachPoint::SyscallEnter)],
    );
    let id = load_object(
        &o,
        &mut engine(|_, h| {
            KSTACKS.store(h[0], Relaxed);
            USTACKS.store(h[1], Relaxed);
            USTACKS_SKIP1.store(h[2], Relaxed);
            RING.store(h[3], Relaxed);
            everything
        }),
    )
    .unwrap();
    OUT.lock().unwrap().clear();
    let t0 = p.clock().now();
    fire(AttachPoint::SyscallEnter, || SyscallEnterCtx {
        header: EventHeader {
            timestamp_ns: 1,
            cpu: 0,
            task: 7,
            thread: 9,
            _reserved: 0,
        },
        nr: 0,
        ..Default::default()
    });
    let out: std::collections::HashMap<_, _> = OUT
        .lock()
        .unwrap()
        .iter()
        .map(|(n, r, b)| (*n, (*r, b.clone())))
        .collect();
    let r = |n: &str| out[n].0;
    let b = |n: &str| out[n].1.clone();
    let efault = errno::EFAULT.wrapping_neg();

    assert!(r("ktime") >= t0 && r("ktime") <= p.clock().now());
    assert!(r("cpu") < 4);
    assert_eq!(r("pid_tgid"), 7 << 32 | 9);
    assert_eq!((r("comm8"), b("comm8")), (0, b"leaky-t\0".to_vec()));
    assert_eq!(&b("comm20")[..16], b"leaky-task-name\0");
    assert_eq!(&b("comm20")[16..], &[0; 4], "zero-padded");

    let (k, k2, u, u1) = (
        r("kstack"),
        r("kstack_again"),
        r("ustack"),
        r("ustack_skip1"),
    );
    assert!(k < 64 && u < 64 && u1 < 64, "{k:#x} {u:#x} {u1:#x}");
    assert_eq!(k, k2, "same stack, same id");
    assert_eq!(
        r("ustack_skip_all"),
        efault,
        "skipping every frame leaves no stack"
    );
    assert_eq!(r("stack_badflags"), errno::EINVAL.wrapping_neg());

    assert_eq!((r("user_ok"), b("user_ok")), (0, (0u8..16).collect()));
    for n in [
        "user_past_end",
        "user_null",
        "user_kernel_half",
        "user_noncanonical",
        "user_wraps",
    ] {
        assert_eq!((r(n), b(n)), (efault, vec![0; 16]), "{n}");
    }
    assert_eq!((r("kernel_ok"), b("kernel_ok")), (0, b"kernel!!".to_vec()));
    assert_eq!(
        (r("kernel_denied"), b("kernel_denied")),
        (efault, vec![0; 8])
    );
    assert_eq!(r("ring"), 0);
    assert_eq!(r("ring_badflags"), errno::EINVAL.wrapping_neg());

    let d = detach(id).unwrap();
    let frames = |map: u32, id: u64| {
        let stacks = d.map(map).unwrap().read_all().unwrap();
        let e = stacks
            .iter()
            .find(|e| e.key == (id as u32).to_le_bytes())
            .unwrap();
        e.value
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .filter(|&f| f != 0)
            .collect::<Vec<_>>()
    };
    assert_eq!(frames(0, k), [0xffff_ffff_8010_0000, 0xffff_ffff_8010_1000]);
    assert_eq!(frames(1, u), [0x40_1000, 0x40_2000, 0x40_3000]);
    assert_eq!(frames(2, u1), [0x40_2000, 0x40_3000]);
    let drained = d.drain_ringbuf(3, 1 << 20).unwrap();
    assert_eq!(drained.records, vec![b"hello ring".to_vec()]);
    assert_eq!(drained.drops, 0);
    p.unmap_user();
}
