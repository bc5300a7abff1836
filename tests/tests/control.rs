//! The control channel under QEMU, spoken raw: the rendezvous points,
//! the requests, and thousands of hostile frames.
//!
//! `sessions.rs` tests the same channel through the `capscope` command.

mod control_util;

use std::time::{Duration, Instant};

use capscope_bytecode::object::{MapKind, ProbeObject};
use capscope_control::frame::{self, PROTOCOL_VERSION};
use capscope_control::{ControlError, Event, Reply, Request, Stop};
use capscope_kernel_hooks::{HostError, LoadError, ObjectId};
use capscope_tests::{Outcome, line, numbers};

use control_util::{Raw, boot, compile, socket};

/// The value of a key-less `count()` map: one entry, the sum over CPUs.
fn count_of(raw: &mut Raw, id: ObjectId, map: u32) -> u64 {
    let Ok(Reply::Map(m)) = raw.request(&Request::ReadMap {
        id,
        map,
        cursor: 0,
        max_entries: 64,
    }) else {
        panic!("reading map {map}");
    };
    m.page
        .entries
        .iter()
        .flat_map(|e| e.value.chunks(8))
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .sum()
}

fn load(raw: &mut Raw, obj: &ProbeObject) -> ObjectId {
    match raw.request(&Request::Load {
        object: obj.to_bytes(),
    }) {
        Ok(Reply::Loaded(l)) => {
            assert_eq!(l.programs as usize, obj.programs.len());
            eprintln!("loaded object {} in the kernel: {:?}", l.id.0, l.timing);
            l.id
        }
        other => panic!("load: {other:?}"),
    }
}

/// With `control`, the kernel stops before the workload's first
/// instruction and again after it exited but before teardown; probes
/// loaded at the first stop see the whole run, and their maps are read at
/// the second while the leaked capabilities still exist.
#[test]
fn rendezvous_load_read_detach_release() {
    let sock = socket("rendezvous");
    let guest = boot("leaky", &sock, false);
    let mut raw = Raw::connect(&sock);
    let info = raw.hello_at_stop();
    assert_eq!(info.version, PROTOCOL_VERSION);
    assert_eq!(info.workload, "leaky");
    assert!(!info.serving);
    assert_eq!(
        info.stopped,
        Some(Stop::Ready {
            workload: "leaky".into()
        })
    );
    assert!(
        !guest.console().contains("leaky:"),
        "the workload ran before continue"
    );
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    assert!(matches!(raw.wait_stop(), Stop::Finished { status: 0 }));
    let console = guest.wait_console("leaky: leaked 5 capabilities", Duration::from_secs(20));
    assert!(!console.contains("teardown freed"), "{console}");
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    let run = guest.running.wait(Duration::from_secs(30)).unwrap();
    assert_eq!(run.outcome, Outcome::Exited(0));
    assert!(
        run.console.contains("teardown freed 8 capabilities"),
        "{}",
        run.console
    );
}

/// Probes loaded at the ready stop count every allocation; at the finished
/// stop the counts are final, a detach parks the object (its maps still
/// readable) until release; teardown then runs with nothing attached.
#[test]
fn probes_loaded_at_ready_count_the_whole_run() {
    let sock = socket("count");
    let guest = boot("syscalls", &sock, false);
    let mut raw = Raw::connect(&sock);
    raw.hello_at_stop();
    let obj = compile("syscall:enter:null { @ = count(); } END { printf(\"bye\\n\"); }");
    let id = load(&mut raw, &obj);
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    assert!(matches!(raw.wait_stop(), Stop::Finished { status: 0 }));
    let console = guest.wait_console("syscalls: ", Duration::from_secs(20));
    let calls = numbers(line(&console, "syscalls: "))[0];
    let map = obj.maps.iter().position(|m| m.name == "@").unwrap() as u32;
    // 100 warm-up calls, then the measured ones.
    assert_eq!(count_of(&mut raw, id, map), calls + 100);
    assert_eq!(
        raw.request(&Request::Detach { id }),
        Ok(Reply::Detached { id })
    );
    // END ran: its record waits in the parked object's ring buffer.
    let rb = obj
        .maps
        .iter()
        .position(|m| m.kind == MapKind::RingBuf)
        .unwrap() as u32;
    let Ok(Reply::Drained(d)) = raw.request(&Request::Drain {
        id,
        map: rb,
        max_bytes: 4096,
    }) else {
        panic!("drain");
    };
    assert_eq!(d.records.len(), 1, "END's printf");
    assert_eq!(
        count_of(&mut raw, id, map),
        calls + 100,
        "a parked object keeps its maps"
    );
    let Ok(Reply::Listing(l)) = raw.request(&Request::List) else {
        panic!("list")
    };
    assert!(l.objects.is_empty());
    assert_eq!(l.parked.len(), 1);
    // The program runs at every syscall:enter and filters for `null`.
    assert!(l.parked[0].programs[0].runs > calls + 100);
    assert_eq!(raw.request(&Request::Release { id }), Ok(Reply::Done));
    assert_eq!(
        raw.request(&Request::Release { id }),
        Err(ControlError::Host(HostError::NoSuchObject(id)))
    );
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    let run = guest.running.wait(Duration::from_secs(30)).unwrap();
    assert_eq!(run.outcome, Outcome::Exited(0));
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// `min` to `min + spread - 1` random bytes.
    fn some_bytes(&mut self, min: usize, spread: u64) -> Vec<u8> {
        let n = min + self.below(spread) as usize;
        self.bytes(n)
    }
}

/// What the kernel must answer to one hostile frame.
#[derive(Debug)]
enum Expect {
    /// Nothing with this frame's sequence number (it is corrupt; at most a
    /// `BadFrame` event).
    NoReply,
    /// An error reply satisfying the check.
    Error(fn(&ControlError) -> bool),
}

/// One hostile frame of kind `i % 10` and what must come back.
fn hostile(
    i: u64,
    rng: &mut Rng,
    seq: u32,
    id: ObjectId,
    rb: u32,
    count: u32,
) -> (Vec<u8>, Expect) {
    let body_garbage = |rng: &mut Rng| loop {
        let b = rng.some_bytes(1, 40);
        if Request::from_body(&b).is_err() {
            return b;
        }
    };
    match i % 10 {
        // Random bytes ending in a delimiter.
        0 => {
            let mut b: Vec<u8> = rng.some_bytes(1, 80);
            b.retain(|&x| x != 0);
            b.push(0);
            (b, Expect::NoReply)
        }
        // A valid request with bits flipped: the checksum catches it.
        1 => {
            let mut w = Request::ReadMap {
                id,
                map: count,
                cursor: 0,
                max_entries: 8,
            }
            .to_frame(seq);
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(w.len() as u64 - 1) as usize;
                w[at] ^= 1 << rng.below(8);
            }
            (w, Expect::NoReply)
        }
        // A good frame of another protocol version.
        2 => {
            let v = loop {
                let v = rng.next() as u8;
                if v != PROTOCOL_VERSION {
                    break v;
                }
            };
            let body = Request::List.to_body();
            (
                frame::encode_versioned(v, seq, &body),
                Expect::Error(|e| {
                    matches!(
                        e,
                        ControlError::Version {
                            supported: PROTOCOL_VERSION,
                            ..
                        }
                    )
                }),
            )
        }
        // A good frame whose body is no request.
        3 => (
            frame::encode(seq, &body_garbage(rng)),
            Expect::Error(|e| *e == ControlError::Malformed),
        ),
        // A valid request cut short, or with a byte too many.
        4 => {
            let mut body = Request::DeleteKey {
                id,
                map: count,
                key: rng.bytes(12),
            }
            .to_body();
            if rng.below(2) == 0 {
                body.truncate(rng.below(body.len() as u64) as usize);
                if Request::from_body(&body).is_ok() {
                    body = body_garbage(rng);
                }
            } else {
                body.push(rng.next() as u8);
            }
            (
                frame::encode(seq, &body),
                Expect::Error(|e| *e == ControlError::Malformed),
            )
        }
        // A load claiming an enormous object.
        5 => {
            let mut body = vec![1u8]; // Request::Load
            let mut len = (1u64 << 40) | rng.next() >> 30;
            while len >= 0x80 {
                body.push(len as u8 | 0x80);
                len >>= 7;
            }
            body.push(len as u8);
            body.extend(rng.bytes(16));
            (
                frame::encode(seq, &body),
                Expect::Error(|e| *e == ControlError::Malformed),
            )
        }
        // Requests naming objects or maps that do not exist.
        6 => {
            let bogus = ObjectId(1000 + rng.below(1000) as u32);
            let reqs = [
                Request::Detach { id: bogus },
                Request::Release { id: bogus },
                Request::ReadMap {
                    id: bogus,
                    map: 0,
                    cursor: 0,
                    max_entries: 1,
                },
                Request::Drain {
                    id: bogus,
                    map: 0,
                    max_bytes: 64,
                },
                Request::ClearMap { id: bogus, map: 0 },
            ];
            let r = &reqs[rng.below(reqs.len() as u64) as usize];
            (
                r.to_frame(seq),
                Expect::Error(|e| matches!(e, ControlError::Host(HostError::NoSuchObject(_)))),
            )
        }
        // The loaded object, but wrong maps, kinds and sizes.
        7 => match rng.below(4) {
            0 => (
                Request::ReadMap {
                    id,
                    map: 50 + rng.below(100) as u32,
                    cursor: 0,
                    max_entries: 1,
                }
                .to_frame(seq),
                Expect::Error(|e| matches!(e, ControlError::Host(HostError::NoSuchMap { .. }))),
            ),
            1 => (
                Request::ReadMap {
                    id,
                    map: rb,
                    cursor: 0,
                    max_entries: 1,
                }
                .to_frame(seq),
                Expect::Error(|e| matches!(e, ControlError::Host(HostError::WrongKind { .. }))),
            ),
            2 => (
                Request::DeleteKey {
                    id,
                    map: count,
                    key: rng.some_bytes(5, 9),
                }
                .to_frame(seq),
                Expect::Error(|e| matches!(e, ControlError::Host(HostError::KeySize { .. }))),
            ),
            _ => (
                Request::Release { id }.to_frame(seq),
                Expect::Error(|e| matches!(e, ControlError::NotParked(_))),
            ),
        },
        // Objects that are not objects.
        8 => (
            Request::Load {
                object: rng.some_bytes(0, 200),
            }
            .to_frame(seq),
            Expect::Error(|e| matches!(e, ControlError::Load(LoadError::Object { .. }))),
        ),
        // A handshake in another version. (A `Continue` is no hostile
        // frame: at a rendezvous it is the host's right.)
        _ => (
            Request::Hello {
                version: PROTOCOL_VERSION + 1 + rng.below(200) as u8,
            }
            .to_frame(seq),
            Expect::Error(|e| matches!(e, ControlError::Version { .. })),
        ),
    }
}

/// Send `n` hostile frames in batches, each batch closed by a valid
/// `List` whose reply proves the kernel still serves; check every reply.
fn barrage(raw: &mut Raw, rng: &mut Rng, n: u64, id: ObjectId, rb: u32, count: u32) -> (u64, u64) {
    let (mut replied, mut bad_frames) = (0, 0);
    let mut i = 0;
    while i < n {
        let mut expect = Vec::new();
        let mut wire = Vec::new();
        for _ in 0..25.min(n - i) {
            let seq = raw.seq();
            let (bytes, e) = hostile(i, rng, seq, id, rb, count);
            wire.extend_from_slice(&bytes);
            // A corrupt frame's tail would swallow the next frame: end it.
            wire.push(0);
            expect.push((seq, e));
            i += 1;
        }
        let sentinel = raw.seq();
        wire.extend_from_slice(&Request::List.to_frame(sentinel));
        raw.send_bytes(&wire);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = std::collections::HashMap::new();
        loop {
            let (seq, msg) = raw.recv(Duration::from_secs(1)).unwrap_or_else(|| {
                assert!(Instant::now() < deadline, "the kernel stopped answering");
                (
                    u32::MAX,
                    capscope_control::ToHost::Event(Event::Detached { id: ObjectId(0) }),
                )
            });
            if seq == u32::MAX {
                continue;
            }
            match msg {
                capscope_control::ToHost::Reply(r) if seq == sentinel => {
                    let Ok(Reply::Listing(l)) = r else {
                        panic!("sentinel: {r:?}")
                    };
                    assert_eq!(
                        l.objects.len(),
                        1,
                        "hostile frames changed the loaded objects"
                    );
                    assert!(l.parked.is_empty());
                    break;
                }
                capscope_control::ToHost::Reply(r) => {
                    assert!(got.insert(seq, r).is_none(), "two replies to {seq}");
                }
                capscope_control::ToHost::Event(Event::BadFrame(_)) => bad_frames += 1,
                capscope_control::ToHost::Event(e) => raw.events.push(e),
            }
        }
        for (seq, e) in expect {
            match (e, got.remove(&seq)) {
                (Expect::NoReply, None) => {}
                (Expect::NoReply, Some(r)) => panic!("a corrupt frame {seq} was answered: {r:?}"),
                (Expect::Error(check), Some(Err(err))) => {
                    assert!(check(&err), "frame {seq}: wrong error {err:?}");
                    replied += 1;
                }
                (Expect::Error(_), other) => {
                    panic!("frame {seq}: expected an error, got {other:?}")
                }
            }
        }
        assert!(got.is_empty(), "replies to frames never sent: {got:?}");
    }
    (replied, bad_frames)
}

/// Thousands of mutated, truncated and hostile frames, at the ready stop
/// (polled) and while the workload runs (interrupt-driven): every one
/// with a trustworthy sequence number gets an error reply, corrupt ones
/// are dropped, nothing changes, the kernel keeps serving, and the
/// workload's ground truth and a probe's exact count are unaffected.
#[test]
fn hostile_frames_get_errors_and_change_nothing() {
    let sock = socket("hostile");
    let guest = boot("syscalls", &sock, false);
    let mut raw = Raw::connect(&sock);
    raw.hello_at_stop();
    let obj = compile("syscall:enter:null { @ = count(); } END { printf(\"done\\n\"); }");
    let id = load(&mut raw, &obj);
    let count = obj.maps.iter().position(|m| m.name == "@").unwrap() as u32;
    let rb = obj
        .maps
        .iter()
        .position(|m| m.kind == MapKind::RingBuf)
        .unwrap() as u32;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t = Instant::now();
    let (mut replied, mut bad) = (0, 0);
    for _ in 0..9 {
        let (r, b) = barrage(&mut raw, &mut rng, 100, id, rb, count);
        replied += r;
        bad += b;
    }
    eprintln!(
        "ready stop: {replied} error replies, {bad} bad frames in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        !guest.console().contains("syscalls:"),
        "hostile frames started the workload"
    );
    assert_eq!(
        count_of(&mut raw, id, count),
        0,
        "the probe ran before the workload"
    );
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    // While the workload runs: requests arrive by interrupt.
    let t = Instant::now();
    let mut finished = None;
    let mut total = 900u64;
    while total < 2500 {
        let (r, b) = barrage(&mut raw, &mut rng, 100, id, rb, count);
        replied += r;
        bad += b;
        total += 100;
        if let Some(s) = raw.new_stop() {
            finished = Some(s);
            break;
        }
    }
    eprintln!(
        "{total} hostile frames: {replied} error replies, {bad} bad-frame events; running part {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(total >= 1000 && replied > 500 && bad > 100);
    let stop = finished.unwrap_or_else(|| raw.wait_stop());
    assert_eq!(stop, Stop::Finished { status: 0 });
    let console = guest.wait_console("syscalls: ", Duration::from_secs(20));
    let calls = numbers(line(&console, "syscalls: "))[0];
    assert_eq!(calls, 10_000);
    assert_eq!(
        count_of(&mut raw, id, count),
        calls + 100,
        "hostile frames disturbed the count"
    );
    assert_eq!(
        raw.request(&Request::Detach { id }),
        Ok(Reply::Detached { id })
    );
    assert_eq!(raw.request(&Request::Release { id }), Ok(Reply::Done));
    assert_eq!(raw.request(&Request::Continue), Ok(Reply::Done));
    let run = guest.running.wait(Duration::from_secs(30)).unwrap();
    assert_eq!(run.outcome, Outcome::Exited(0));
    assert!(
        run.console.contains("teardown freed 3 capabilities"),
        "{}",
        run.console
    );
}
