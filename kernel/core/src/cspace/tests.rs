//! Host tests of capability spaces and the mapping database.

use alloc::vec::Vec;

use super::*;
use crate::ids::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Alloc(SlotRef, ObjId),
    Free(SlotRef, ObjId, FreeReason),
    Map {
        dst: SlotRef,
        grant: bool,
        overmap: bool,
    },
    Unmap(SlotRef, u32),
    Last(ObjId),
}

#[derive(Default)]
struct Rec(Vec<Ev>);

impl CapEvents for Rec {
    fn alloc(&mut self, at: SlotRef, cap: Cap) {
        self.0.push(Ev::Alloc(at, cap.obj));
    }
    fn free(&mut self, at: SlotRef, cap: Cap, reason: FreeReason) {
        self.0.push(Ev::Free(at, cap.obj, reason));
    }
    fn map(&mut self, ev: &MapEvent) {
        self.0.push(Ev::Map {
            dst: ev.dst,
            grant: ev.grant,
            overmap: ev.replaced.is_some(),
        });
    }
    fn unmap(&mut self, at: SlotRef, _cap: Cap, revoked: u32) {
        self.0.push(Ev::Unmap(at, revoked));
    }
    fn last_cap(&mut self, cap: Cap) {
        self.0.push(Ev::Last(cap.obj));
    }
}

const A: TaskId = TaskId(1);
const B: TaskId = TaskId(2);

fn s(task: TaskId, slot: u32) -> SlotRef {
    SlotRef::new(task, Slot(slot))
}

fn gate(id: u64) -> Cap {
    Cap {
        obj: ObjId(id),
        kind: Kind::Gate,
        rights: Rights::ALL,
    }
}

fn setup() -> (CapSystem, Rec) {
    let mut cs = CapSystem::new();
    cs.create_space(A).unwrap();
    cs.create_space(B).unwrap();
    (cs, Rec::default())
}

fn insert(cs: &mut CapSystem, ev: &mut Rec, at: SlotRef, cap: Cap) {
    let op = cs.decode_insert(at).unwrap();
    cs.invoke_insert(op, cap, ev);
}

fn map(
    cs: &mut CapSystem,
    ev: &mut Rec,
    src: SlotRef,
    dst: SlotRef,
    rights: u64,
    flags: u64,
) -> KResult<MapEvent> {
    let op = cs.decode_map(src, dst, rights, flags)?;
    Ok(cs.invoke_map(op, ev))
}

/// Every link is mirrored, every parent is occupied, counts add up.
fn check_invariants(cs: &CapSystem) {
    let mut counted: BTreeMap<ObjId, u32> = BTreeMap::new();
    for (&task, space) in &cs.spaces {
        let mut used = 0;
        for (i, n) in space.slots.iter().enumerate() {
            let Some(n) = n else { continue };
            used += 1;
            let me = s(task, i as u32);
            *counted.entry(n.cap.obj).or_default() += 1;
            if let Some(p) = n.parent {
                assert!(
                    cs.children(p).contains(&me),
                    "{me:?} missing from {p:?}'s children"
                );
            }
            for c in cs.children(me) {
                assert_eq!(cs.get(c).parent, Some(me));
            }
            if let Some(p) = n.prev {
                assert_eq!(cs.get(p).next, Some(me));
            }
            if let Some(nx) = n.next {
                assert_eq!(cs.get(nx).prev, Some(me));
            }
        }
        assert_eq!(used, space.used);
    }
    assert_eq!(counted, cs.refs);
}

#[test]
fn insert_lookup_and_errors() {
    let (mut cs, mut ev) = setup();
    assert_eq!(cs.lookup(s(A, 3)), Err(Error::NoEnt));
    assert_eq!(cs.lookup(s(A, SLOTS as u32)), Err(Error::Range));
    assert_eq!(cs.lookup(s(TaskId(9), 0)), Err(Error::NoEnt));
    insert(&mut cs, &mut ev, s(A, 3), gate(7));
    assert_eq!(cs.lookup(s(A, 3)), Ok(gate(7)));
    assert_eq!(cs.decode_insert(s(A, 3)), Err(Error::Busy));
    assert_eq!(cs.refs(ObjId(7)), 1);
    assert_eq!(ev.0, [Ev::Alloc(s(A, 3), ObjId(7))]);
    assert_eq!(cs.create_space(A), Err(Error::Exist));
}

#[test]
fn map_checks_rights_flags_and_slots() {
    let (mut cs, mut ev) = setup();
    let weak = Cap {
        rights: Rights::READ.or(Rights::INVOKE),
        ..gate(1)
    };
    insert(&mut cs, &mut ev, s(A, 0), weak);
    insert(&mut cs, &mut ev, s(A, 1), gate(2));
    // no RIGHT_MAP on the source
    assert_eq!(cs.decode_map(s(A, 0), s(B, 0), 1, 0), Err(Error::Perm));
    // more rights than the source
    let m = Cap {
        rights: Rights::MAP.or(Rights::READ),
        ..gate(3)
    };
    insert(&mut cs, &mut ev, s(A, 2), m);
    assert_eq!(
        cs.decode_map(s(A, 2), s(B, 0), Rights::WRITE.raw(), 0),
        Err(Error::Perm)
    );
    assert_eq!(cs.decode_map(s(A, 1), s(B, 0), 64, 0), Err(Error::Inval));
    assert_eq!(cs.decode_map(s(A, 1), s(B, 0), 1, 4), Err(Error::Inval));
    assert_eq!(cs.decode_map(s(A, 1), s(A, 1), 1, 0), Err(Error::Inval));
    assert_eq!(cs.decode_map(s(A, 9), s(B, 0), 1, 0), Err(Error::NoEnt));
    assert_eq!(cs.decode_map(s(A, 1), s(B, 600), 1, 0), Err(Error::Range));
    assert_eq!(
        cs.decode_map(s(A, 1), s(TaskId(5), 0), 1, 0),
        Err(Error::NoEnt)
    );
    check_invariants(&cs);
}

#[test]
fn map_copies_and_records_the_derivation() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    ev.0.clear();
    let e = map(&mut cs, &mut ev, s(A, 0), s(B, 4), Rights::READ.raw(), 0).unwrap();
    assert_eq!(e.cap.rights, Rights::READ);
    assert_eq!(e.src_rights, Rights::ALL);
    assert_eq!(e.replaced, None);
    assert_eq!(cs.refs(ObjId(1)), 2);
    assert_eq!(cs.parent(s(B, 4)), Some(s(A, 0)));
    assert_eq!(
        ev.0,
        [
            Ev::Alloc(s(B, 4), ObjId(1)),
            Ev::Map {
                dst: s(B, 4),
                grant: false,
                overmap: false
            }
        ]
    );
    check_invariants(&cs);
}

#[test]
fn overmap_replaces_and_no_overmap_refuses() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    insert(&mut cs, &mut ev, s(A, 1), gate(2));
    ev.0.clear();
    assert_eq!(
        cs.decode_map(s(A, 0), s(A, 1), 1, map_flags::NO_OVERMAP),
        Err(Error::Busy)
    );
    assert!(ev.0.is_empty());
    let e = map(&mut cs, &mut ev, s(A, 0), s(A, 1), 1, 0).unwrap();
    assert_eq!(e.replaced.map(|c| c.obj), Some(ObjId(2)));
    assert_eq!(
        ev.0,
        [
            Ev::Free(s(A, 1), ObjId(2), FreeReason::Overmap),
            Ev::Last(ObjId(2)),
            Ev::Alloc(s(A, 1), ObjId(1)),
            Ev::Map {
                dst: s(A, 1),
                grant: false,
                overmap: true
            }
        ]
    );
    check_invariants(&cs);
}

#[test]
fn grant_moves_and_keeps_the_subtree() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    map(&mut cs, &mut ev, s(A, 0), s(A, 1), Rights::ALL.raw(), 0).unwrap();
    map(&mut cs, &mut ev, s(A, 1), s(B, 1), Rights::READ.raw(), 0).unwrap();
    ev.0.clear();
    // move A1 (child of A0, parent of B1) to B7 with fewer rights
    let r = Rights::READ.or(Rights::MAP).raw();
    map(&mut cs, &mut ev, s(A, 1), s(B, 7), r, map_flags::GRANT).unwrap();
    assert_eq!(cs.lookup(s(A, 1)), Err(Error::NoEnt));
    assert_eq!(cs.lookup(s(B, 7)).unwrap().rights.raw(), r);
    assert_eq!(cs.parent(s(B, 7)), Some(s(A, 0)));
    assert_eq!(cs.parent(s(B, 1)), Some(s(B, 7)));
    assert_eq!(cs.refs(ObjId(1)), 3);
    assert_eq!(
        ev.0,
        [
            Ev::Free(s(A, 1), ObjId(1), FreeReason::Grant),
            Ev::Alloc(s(B, 7), ObjId(1)),
            Ev::Map {
                dst: s(B, 7),
                grant: true,
                overmap: false
            }
        ]
    );
    check_invariants(&cs);
    // revoking the root still reaches the moved subtree
    let op = cs.decode_unmap(s(A, 0), 0).unwrap();
    assert_eq!(cs.invoke_unmap(op, &mut ev), 2);
    assert_eq!(cs.refs(ObjId(1)), 1);
    check_invariants(&cs);
}

#[test]
fn unmap_revokes_deepest_first_across_tasks() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    map(&mut cs, &mut ev, s(A, 0), s(A, 1), 31, 0).unwrap();
    map(&mut cs, &mut ev, s(A, 1), s(B, 2), 31, 0).unwrap();
    map(&mut cs, &mut ev, s(A, 0), s(B, 3), 31, 0).unwrap();
    ev.0.clear();
    assert_eq!(cs.decode_unmap(s(A, 0), 2), Err(Error::Inval));
    assert_eq!(cs.decode_unmap(s(A, 5), 0), Err(Error::NoEnt));
    let op = cs.decode_unmap(s(A, 0), unmap_flags::SELF).unwrap();
    assert_eq!(cs.invoke_unmap(op, &mut ev), 3);
    assert_eq!(ev.0[0], Ev::Unmap(s(A, 0), 3));
    let frees: Vec<_> =
        ev.0.iter()
            .filter_map(|e| match e {
                Ev::Free(at, _, r) => Some((*at, *r)),
                _ => None,
            })
            .collect();
    // B2 (grandchild) goes before A1 (its parent); A0 itself goes last.
    let pos = |x| frees.iter().position(|(a, _)| *a == x).unwrap();
    assert!(pos(s(B, 2)) < pos(s(A, 1)));
    assert_eq!(frees.last(), Some(&(s(A, 0), FreeReason::Delete)));
    assert_eq!(frees.len(), 4);
    assert_eq!(ev.0.last(), Some(&Ev::Last(ObjId(1))));
    assert_eq!(cs.occupied(A) + cs.occupied(B), 0);
    check_invariants(&cs);
}

#[test]
fn delete_moves_children_up_so_revocation_still_reaches_them() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    map(&mut cs, &mut ev, s(A, 0), s(A, 1), 31, 0).unwrap();
    map(&mut cs, &mut ev, s(A, 1), s(B, 1), 31, 0).unwrap();
    let op = cs.decode_delete(s(A, 1)).unwrap();
    cs.invoke_delete(op, &mut ev);
    assert_eq!(cs.parent(s(B, 1)), Some(s(A, 0)));
    check_invariants(&cs);
    let op = cs.decode_unmap(s(A, 0), 0).unwrap();
    assert_eq!(cs.invoke_unmap(op, &mut ev), 1);
    assert_eq!(cs.lookup(s(B, 1)), Err(Error::NoEnt));
    assert_eq!(cs.decode_delete(s(B, 1)), Err(Error::NoEnt));
}

#[test]
fn teardown_frees_everything_and_reports_last_caps() {
    let (mut cs, mut ev) = setup();
    insert(&mut cs, &mut ev, s(A, 0), gate(1));
    insert(&mut cs, &mut ev, s(A, 5), gate(2));
    map(&mut cs, &mut ev, s(A, 0), s(B, 0), 31, 0).unwrap();
    ev.0.clear();
    assert_eq!(cs.destroy_space(A, &mut ev), 2);
    assert!(!cs.has_space(A));
    assert_eq!(
        ev.0,
        [
            Ev::Free(s(A, 0), ObjId(1), FreeReason::Teardown),
            Ev::Free(s(A, 5), ObjId(2), FreeReason::Teardown),
            Ev::Last(ObjId(2)),
        ]
    );
    // B0 survives as a root.
    assert_eq!(cs.parent(s(B, 0)), None);
    assert_eq!(cs.refs(ObjId(1)), 1);
    check_invariants(&cs);
    assert_eq!(cs.destroy_space(A, &mut ev), 0);
}

/// Thousands of random operations keep the MDB consistent, and a failed
/// decode never changes anything.
#[test]
fn random_operations_keep_invariants() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut cs, mut ev) = setup();
    let tasks = [A, B];
    for step in 0..20_000u64 {
        let at = s(tasks[next(2) as usize], next(12) as u32);
        let other = s(tasks[next(2) as usize], next(12) as u32);
        let before = ev.0.len();
        let ok = match next(5) {
            0 => cs
                .decode_insert(at)
                .map(|op| cs.invoke_insert(op, gate(step % 5), &mut ev))
                .is_ok(),
            1 => cs
                .decode_delete(at)
                .map(|op| cs.invoke_delete(op, &mut ev))
                .is_ok(),
            2 | 3 => cs
                .decode_map(at, other, next(32), next(4))
                .map(|op| cs.invoke_map(op, &mut ev))
                .is_ok(),
            _ => cs
                .decode_unmap(at, next(2))
                .map(|op| cs.invoke_unmap(op, &mut ev))
                .is_ok(),
        };
        if !ok {
            assert_eq!(ev.0.len(), before, "a refused operation reported events");
        }
        if step % 64 == 0 {
            check_invariants(&cs);
        }
    }
    check_invariants(&cs);
    // alloc and free balance against what is still occupied
    let allocs = ev.0.iter().filter(|e| matches!(e, Ev::Alloc(..))).count();
    let frees = ev.0.iter().filter(|e| matches!(e, Ev::Free(..))).count();
    assert_eq!(allocs - frees, cs.occupied(A) + cs.occupied(B));
}
