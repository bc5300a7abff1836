//! Every map kind, directly (no fire path): semantics, drops, host reads,
//! and a differential test against the reference model of
//! `capscope_bytecode::model`.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::abi::helpers::{id, stack_flags, update_flags};
use crate::insn::MapIdx;
use crate::object::MapDisplay;

fn def(kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        name: "m".into(),
        kind,
        key_size,
        value_size,
        max_entries,
        display: MapDisplay::default(),
    }
}

fn map(kind: MapKind, k: u32, v: u32, n: u32, cpus: usize) -> Map {
    Map::new(&def(kind, k, v, n), cpus, 0x1234).unwrap()
}

fn read_u64(p: *mut u8) -> Option<u64> {
    // SAFETY: test maps hand out 8-byte-aligned pointers to >= 8 value bytes.
    (!p.is_null()).then(|| unsafe { (p as *const u64).read() })
}

const EEXIST: u64 = errno::EEXIST.wrapping_neg();
const ENOENT: u64 = errno::ENOENT.wrapping_neg();
const E2BIG: u64 = errno::E2BIG.wrapping_neg();
const EINVAL: u64 = errno::EINVAL.wrapping_neg();

#[test]
fn hash_flags_full_drop_and_host_access() {
    let m = map(MapKind::Hash, 8, 8, 2, 1);
    let k = |n: u64| n.to_le_bytes();
    assert_eq!(m.update(&k(1), &k(10), update_flags::ANY, 0), 0);
    assert_eq!(m.update(&k(1), &k(11), update_flags::NOEXIST, 0), EEXIST);
    assert_eq!(m.update(&k(2), &k(20), update_flags::EXIST, 0), ENOENT);
    assert_eq!(m.update(&k(2), &k(20), update_flags::NOEXIST, 0), 0);
    assert_eq!(m.update(&k(1), &k(12), update_flags::EXIST, 0), 0);
    assert_eq!(m.update(&k(1), &k(12), 4, 0), EINVAL);
    assert_eq!(m.drops(), 0);
    assert_eq!(m.update(&k(3), &k(30), update_flags::ANY, 0), E2BIG);
    assert_eq!(m.drops(), 1, "a full map counts the drop");
    assert_eq!(read_u64(m.lookup(&k(1), 0)), Some(12));
    assert_eq!(read_u64(m.lookup(&k(3), 0)), None);
    // A program writes through the pointer; the host sees it.
    let p = m.lookup(&k(2), 0) as *mut u64;
    // SAFETY: aligned pointer to the 8-byte value of key 2.
    unsafe { *p += 5 };
    let mut all = m.read_all().unwrap();
    all.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        all,
        vec![
            MapEntry {
                key: k(1).to_vec(),
                value: k(12).to_vec()
            },
            MapEntry {
                key: k(2).to_vec(),
                value: k(25).to_vec()
            },
        ]
    );
    assert_eq!(m.delete(&k(1)), 0);
    assert_eq!(m.delete(&k(1)), ENOENT);
    assert_eq!(
        m.update(&k(3), &k(30), update_flags::ANY, 0),
        0,
        "deleting made room"
    );
    m.zero();
    assert_eq!(read_u64(m.lookup(&k(3), 0)), Some(0));
    assert_eq!(m.delete_key(&k(3)), Ok(()));
    assert_eq!(m.delete_key(&k(3)), Err(HostError::NoSuchKey));
    assert_eq!(
        m.delete_key(&[0; 3]),
        Err(HostError::KeySize {
            expected: 8,
            got: 3
        })
    );
    m.clear();
    assert!(m.is_empty());
    assert_eq!(m.update_key(&k(7), &k(70)), Ok(()));
    assert_eq!(read_u64(m.lookup(&k(7), 0)), Some(70));
}

#[test]
fn hash_pages_cover_every_entry_once() {
    let m = map(MapKind::Hash, 4, 8, 1000, 1);
    for i in 0u32..1000 {
        assert_eq!(
            m.update(&i.to_le_bytes(), &(i as u64).to_le_bytes(), 0, 0),
            0
        );
    }
    let mut seen = Vec::new();
    let mut cursor = Some(0);
    let mut pages = 0;
    while let Some(c) = cursor {
        let p = m.read(c, 64).unwrap();
        pages += 1;
        seen.extend(
            p.entries
                .iter()
                .map(|e| u32::from_le_bytes(e.key[..4].try_into().unwrap())),
        );
        cursor = p.next;
    }
    assert!(pages > 10);
    seen.sort();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let m = map(MapKind::LruHash, 8, 8, 3, 1);
    let k = |n: u64| n.to_le_bytes();
    for n in 1..=3 {
        assert_eq!(m.update(&k(n), &k(n), 0, 0), 0);
    }
    // Use 1, so 2 is now the oldest.
    assert!(!m.lookup(&k(1), 0).is_null());
    assert_eq!(m.update(&k(4), &k(4), 0, 0), 0);
    assert!(m.lookup(&k(2), 0).is_null(), "2 was evicted");
    for n in [1, 3, 4] {
        assert_eq!(read_u64(m.lookup(&k(n), 0)), Some(n));
    }
    assert_eq!(m.drops(), 0, "eviction is not a drop");
    assert_eq!(m.delete(&k(3)), 0);
    assert_eq!(m.len(), 2);
    m.clear();
    assert_eq!(m.len(), 0);
    assert_eq!(m.update(&k(9), &k(9), 0, 0), 0);
}

#[test]
fn percpu_hash_keeps_one_table_per_cpu_and_the_host_merges() {
    let m = map(MapKind::PerCpuHash, 8, 8, 4, 3);
    let k = |n: u64| n.to_le_bytes();
    assert_eq!(m.update(&k(1), &k(10), 0, 0), 0);
    assert_eq!(m.update(&k(1), &k(12), 0, 2), 0);
    assert_eq!(m.update(&k(2), &k(21), 0, 1), 0);
    assert_eq!(read_u64(m.lookup(&k(1), 0)), Some(10));
    assert_eq!(read_u64(m.lookup(&k(1), 2)), Some(12));
    assert!(m.lookup(&k(1), 1).is_null());
    assert!(
        m.lookup(&k(1), 7).is_null(),
        "a CPU out of range gets nothing"
    );
    assert_eq!(m.values_per_entry(), 3);
    let mut all = m.read_all().unwrap();
    all.sort_by(|a, b| a.key.cmp(&b.key));
    let vals = |a: u64, b: u64, c: u64| {
        [a, b, c]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all,
        vec![
            MapEntry {
                key: k(1).to_vec(),
                value: vals(10, 0, 12)
            },
            MapEntry {
                key: k(2).to_vec(),
                value: vals(0, 21, 0)
            },
        ]
    );
    // A delete from a program removes the key on every CPU.
    assert_eq!(m.delete(&k(1)), 0);
    assert!(m.lookup(&k(1), 2).is_null());
    // Each CPU's table has the full capacity.
    for n in 10..14 {
        assert_eq!(m.update(&k(n), &k(n), 0, 0), 0);
    }
    assert_eq!(m.update(&k(99), &k(99), 0, 0), E2BIG);
    assert_eq!(m.update(&k(99), &k(99), 0, 1), 0);
    assert_eq!(m.drops(), 1);
}

#[test]
fn arrays_exist_everywhere_and_cannot_delete() {
    let m = map(MapKind::Array, 4, 12, 4, 1);
    let k = |n: u32| n.to_le_bytes();
    assert!(!m.lookup(&k(3), 0).is_null());
    assert!(m.lookup(&k(4), 0).is_null());
    assert_eq!(m.update(&k(4), &[1; 12], 0, 0), E2BIG);
    assert_eq!(m.update(&k(1), &[1; 12], update_flags::NOEXIST, 0), EEXIST);
    assert_eq!(m.update(&k(1), &[7; 12], update_flags::EXIST, 0), 0);
    assert_eq!(m.delete(&k(1)), EINVAL);
    assert_eq!(m.drops(), 0);
    let all = m.read_all().unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all[1],
        MapEntry {
            key: k(1).to_vec(),
            value: vec![7; 12]
        }
    );
    assert_eq!(all[2].value, vec![0; 12]);
    assert_eq!(m.delete_key(&k(1)), Ok(()));
    assert_eq!(m.read(1, 1).unwrap().entries[0].value, vec![0; 12]);

    let pc = map(MapKind::PerCpuArray, 4, 8, 2, 2);
    assert_eq!(pc.update(&k(0), &5u64.to_le_bytes(), 0, 1), 0);
    assert_eq!(read_u64(pc.lookup(&k(0), 0)), Some(0));
    assert_eq!(read_u64(pc.lookup(&k(0), 1)), Some(5));
    let e = &pc.read(0, 1).unwrap().entries[0];
    assert_eq!(
        e.value,
        [0u64, 5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    );
    pc.clear();
    assert_eq!(read_u64(pc.lookup(&k(0), 1)), Some(0));
}

#[test]
fn stack_ids_are_stable_and_collisions_are_drops() {
    let m = map(MapKind::StackTrace, 4, 8 * 4, 1, 1);
    let a = [0x10, 0x20, 0x30];
    let b = [0x11, 0x21];
    let id = m.stack_id(&a, 0);
    assert_eq!(id, 0);
    assert_eq!(m.stack_id(&a, 0), id, "same stack, same id");
    assert_eq!(m.stack_id(&b, 0), EEXIST, "one bucket: b collides");
    assert_eq!(m.drops(), 1);
    assert_eq!(m.stack_id(&b, stack_flags::REUSE_STACKID), 0);
    let e = &m.read_all().unwrap()[0];
    assert_eq!(e.key, 0u32.to_le_bytes());
    assert_eq!(
        e.value,
        [0x11u64, 0x21, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(m.stack_id(&[], 0), errno::EFAULT.wrapping_neg());
    // Deeper stacks are truncated to the map's depth.
    let deep: Vec<u64> = (1..20).collect();
    let m2 = map(MapKind::StackTrace, 4, 8 * 4, 64, 1);
    let id = m2.stack_id(&deep[..m2.stack_depth()], 0) as u32;
    let e = m2.read_all().unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].key, id.to_le_bytes());
    assert_eq!(m2.delete_key(&id.to_le_bytes()), Ok(()));
    assert!(m2.is_empty());
}

#[test]
fn a_few_stacks_never_collide_whatever_the_seed() {
    // Eight buckets, eight distinct stacks: each lands somewhere within
    // its probe run whatever the seed, so none is dropped; a ninth is.
    for seed in 0..200u64 {
        let m = Map::new(&def(MapKind::StackTrace, 4, 8 * 2, 8), 1, seed).unwrap();
        let stacks: Vec<[u64; 2]> = (0..8).map(|i| [0x1000 + i, 0x2000]).collect();
        let ids: Vec<u64> = stacks.iter().map(|s| m.stack_id(s, 0)).collect();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct, (0..8).collect::<Vec<_>>(), "seed {seed}");
        for (s, id) in stacks.iter().zip(&ids) {
            assert_eq!(m.stack_id(s, 0), *id, "seed {seed}: same stack, same id");
        }
        assert_eq!(m.stack_id(&[0x9999, 0x2000], 0), EEXIST, "seed {seed}");
        assert_eq!(m.drops(), 1);
    }
}

#[test]
fn ringbuf_wraps_drops_when_full_and_drains_in_order() {
    let m = map(MapKind::RingBuf, 0, 0, 4096, 1);
    let mut next = 0u32;
    let mut expect = 0u32;
    // Fill and drain many times, so records wrap around the end.
    for round in 0..20 {
        let mut written = 0;
        loop {
            let rec: Vec<u8> = next
                .to_le_bytes()
                .iter()
                .copied()
                .chain(core::iter::repeat_n(round as u8, 37))
                .collect();
            if m.output(&rec) != 0 {
                break;
            }
            next += 1;
            written += 1;
        }
        assert!(written > 50);
        let mut got = 0;
        let more = m
            .drain(usize::MAX, &mut |r| {
                assert_eq!(r.len(), 41);
                assert_eq!(u32::from_le_bytes(r[..4].try_into().unwrap()), expect);
                assert!(r[4..].iter().all(|&b| b == round as u8));
                expect += 1;
                got += 1;
            })
            .unwrap();
        assert!(!more);
        assert_eq!(got, written);
    }
    assert_eq!(m.drops(), 20, "each round ended with one dropped record");
    assert_eq!(m.output(&[0; 5000]), errno::ENOSPC.wrapping_neg());
    assert!(m.read(0, 1).is_err());
    // Partial drains leave the rest.
    for i in 0..10u8 {
        assert_eq!(m.output(&[i; 100]), 0);
    }
    let mut n = 0;
    assert!(m.drain(250, &mut |_| n += 1).unwrap());
    assert_eq!(n, 3);
    m.clear();
    assert!(m.is_empty());
}

#[test]
fn invalid_definitions_are_refused() {
    for d in [
        def(MapKind::RingBuf, 0, 0, 5000),
        def(MapKind::Array, 8, 8, 1),
        def(MapKind::Hash, 0, 8, 1),
        def(MapKind::Hash, 8, 8, 0),
        def(MapKind::StackTrace, 4, 12, 1),
    ] {
        assert!(Map::footprint(&d, 1).is_none(), "{d:?}");
        assert!(
            matches!(Map::new(&d, 1, 0), Err(MapNewError::Invalid(_))),
            "{d:?}"
        );
    }
}

// ---- differential test against the reference model ----

use capscope_bytecode::interp::Env;
use capscope_bytecode::model::{EventState, ModelEnv};

#[derive(Clone, Debug)]
enum Op {
    Lookup(u8),
    Update(u8, u64, u64),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..12).prop_map(Op::Lookup),
        (
            0u8..12,
            any::<u64>(),
            prop_oneof![Just(0u64), Just(1), Just(2), Just(5)]
        )
            .prop_map(|(k, v, f)| Op::Update(k, v, f)),
        (0u8..12).prop_map(Op::Delete),
    ]
}

fn key_for(kind: MapKind, k: u8) -> Vec<u8> {
    match kind {
        MapKind::Array | MapKind::PerCpuArray => (k as u32).to_le_bytes().to_vec(),
        _ => vec![k, 0, 0, 0, 0, 0, 0, 0xab],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// On one CPU, every kind gives the model's return codes, the model's
    /// lookup results, and the model's final contents and drop count.
    #[test]
    fn maps_agree_with_the_reference_model(
        kind in prop_oneof![
            Just(MapKind::Hash), Just(MapKind::LruHash), Just(MapKind::PerCpuHash),
            Just(MapKind::Array), Just(MapKind::PerCpuArray),
        ],
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let ks = if matches!(kind, MapKind::Array | MapKind::PerCpuArray) { 4 } else { 8 };
        let d = def(kind, ks, 8, 6);
        let ours = Map::new(&d, 1, 99).unwrap();
        let mut model = ModelEnv::new(core::slice::from_ref(&d), EventState::default());
        let h = model.map_handle(MapIdx(0)).unwrap();
        for op in &ops {
            match *op {
                Op::Lookup(k) => {
                    let key = key_for(kind, k);
                    // SAFETY: handle from this env; key covers key_size bytes.
                    let p = unsafe { model.call(id::MAP_LOOKUP_ELEM, [h, key.as_ptr() as u64, 0, 0, 0]) }.unwrap();
                    // SAFETY: model value pointers cover the value size.
                    let theirs = (p != 0).then(|| unsafe { (p as *const u8 as *const [u8; 8]).read_unaligned() });
                    let mine = read_u64(ours.lookup(&key, 0)).map(u64::to_le_bytes);
                    prop_assert_eq!(mine, theirs, "{:?}", op);
                }
                Op::Update(k, v, f) => {
                    let key = key_for(kind, k);
                    let val = v.to_le_bytes();
                    // SAFETY: as above; the value covers value_size bytes.
                    let theirs = unsafe { model.call(id::MAP_UPDATE_ELEM, [h, key.as_ptr() as u64, val.as_ptr() as u64, f, 0]) }.unwrap();
                    prop_assert_eq!(ours.update(&key, &val, f, 0), theirs, "{:?}", op);
                }
                Op::Delete(k) => {
                    let key = key_for(kind, k);
                    // SAFETY: as above.
                    let theirs = unsafe { model.call(id::MAP_DELETE_ELEM, [h, key.as_ptr() as u64, 0, 0, 0]) }.unwrap();
                    prop_assert_eq!(ours.delete(&key), theirs, "{:?}", op);
                }
            }
        }
        let snap = &model.snapshot().maps[0];
        let mut mine = ours.read_all().unwrap();
        if matches!(kind, MapKind::Array | MapKind::PerCpuArray) {
            mine.retain(|e| e.value.iter().any(|&b| b != 0));
        }
        mine.sort_by(|a, b| a.key.cmp(&b.key));
        let theirs: Vec<MapEntry> = snap.entries.iter()
            .map(|e| MapEntry { key: e.key.clone(), value: e.values.concat() })
            .collect();
        prop_assert_eq!(mine, theirs);
        prop_assert_eq!(ours.drops(), snap.drops);
    }
}
