//! Capability spaces and the mapping database.
//!
//! Every task has a capability space: [`SLOTS`] slots, each empty or holding
//! a [`Cap`]. Every occupied slot is also a node of the *mapping database*
//! (MDB), a forest recording which capability was derived from which: `map`
//! makes the new capability a child of its source; `grant` moves a node,
//! keeping its place in the forest; `unmap` empties every descendant of a
//! node (revocation). Deleting a node (delete, overmap, teardown) does not
//! revoke: its children move up to its parent, so a later `unmap` of an
//! ancestor still reaches them.
//!
//! Operations follow seL4's decode/invoke split. `decode_*` takes `&self`,
//! checks indices, occupancy, rights and flags, and returns an operation
//! value; `invoke_*` takes that value and `&mut self` and cannot fail. A
//! syscall therefore either changes nothing (and returns an error) or runs
//! to completion.
//!
//! Invoke reports through [`CapEvents`]: `alloc` when a slot becomes
//! occupied, `free` (with the reason) when it becomes empty, `map` and
//! `unmap` for the operations themselves, and `last_cap` when an object is
//! referenced by no capability any more. The sink must not call back into
//! the [`CapSystem`]: the kernel queues `last_cap` objects and destroys them
//! after the operation returns.
//!
//! Event order, which probes can rely on: an overmap reports the replaced
//! capability's `free(OVERMAP)` before the new `alloc`; a grant reports
//! `free(GRANT)` of the source before the `alloc` of the destination; the
//! `map` event comes last. `unmap` is reported first, then a `free(REVOKE)`
//! per revoked descendant (deepest first), then, with `UNMAP_SELF`, the
//! node's own `free(DELETE)`.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use capscope_bytecode::abi::consts::{free_reason, map_flags, unmap_flags};

use crate::error::{Error, KResult};
use crate::ids::{Cap, ObjId, Rights, Slot, SlotRef, TaskId};

/// Slots per capability space.
pub const SLOTS: usize = 512;

/// Why a slot emptied: the `reason` of `cap:free`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeReason {
    /// The `delete` syscall.
    Delete,
    /// Revoked by an `unmap` of an ancestor.
    Revoke,
    /// Replaced by an overmap.
    Overmap,
    /// Moved out by a grant.
    Grant,
    /// The task's space was torn down.
    Teardown,
}

impl FreeReason {
    /// The `FREE_*` value.
    pub const fn raw(self) -> u64 {
        match self {
            FreeReason::Delete => free_reason::DELETE,
            FreeReason::Revoke => free_reason::REVOKE,
            FreeReason::Overmap => free_reason::OVERMAP,
            FreeReason::Grant => free_reason::GRANT,
            FreeReason::Teardown => free_reason::TEARDOWN,
        }
    }
}

/// What a completed map or grant did (the `cap:map` context's content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEvent {
    /// Source slot.
    pub src: SlotRef,
    /// Destination slot.
    pub dst: SlotRef,
    /// The new capability in `dst`.
    pub cap: Cap,
    /// The source capability's rights.
    pub src_rights: Rights,
    /// True for a grant (move).
    pub grant: bool,
    /// The capability that `dst` held before, if it was an overmap.
    pub replaced: Option<Cap>,
}

/// Receives what invoke operations did. See the module docs for the order.
pub trait CapEvents {
    /// `at` became occupied by `cap`.
    fn alloc(&mut self, at: SlotRef, cap: Cap);
    /// `at`, which held `cap`, became empty.
    fn free(&mut self, at: SlotRef, cap: Cap, reason: FreeReason);
    /// A map or grant completed.
    fn map(&mut self, ev: &MapEvent);
    /// `unmap` of `at` (holding `cap`) revoked `revoked` descendants.
    fn unmap(&mut self, at: SlotRef, cap: Cap, revoked: u32);
    /// No capability refers to `cap.obj` any more. Must not re-enter.
    fn last_cap(&mut self, cap: Cap);
}

#[derive(Clone, Copy, Debug)]
struct Node {
    cap: Cap,
    parent: Option<SlotRef>,
    first_child: Option<SlotRef>,
    prev: Option<SlotRef>,
    next: Option<SlotRef>,
}

struct CSpace {
    slots: Vec<Option<Node>>,
    used: usize,
}

/// All capability spaces, the mapping database across them, and the count
/// of capabilities referring to each object.
pub struct CapSystem {
    spaces: BTreeMap<TaskId, CSpace>,
    refs: BTreeMap<ObjId, u32>,
}

/// A checked `create` destination: an empty slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsertOp {
    at: SlotRef,
}

/// A checked `delete`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeleteOp {
    at: SlotRef,
}

/// A checked `map` or `grant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapOp {
    src: SlotRef,
    dst: SlotRef,
    rights: Rights,
    grant: bool,
}

impl MapOp {
    /// The destination slot.
    pub fn dst(&self) -> SlotRef {
        self.dst
    }
}

/// A checked `unmap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapOp {
    at: SlotRef,
    self_too: bool,
}

impl Default for CapSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl CapSystem {
    /// An empty system with no spaces.
    pub const fn new() -> CapSystem {
        CapSystem {
            spaces: BTreeMap::new(),
            refs: BTreeMap::new(),
        }
    }

    /// Give `task` an empty capability space.
    pub fn create_space(&mut self, task: TaskId) -> KResult<()> {
        if self.spaces.contains_key(&task) {
            return Err(Error::Exist);
        }
        self.spaces.insert(
            task,
            CSpace {
                slots: vec![None; SLOTS],
                used: 0,
            },
        );
        Ok(())
    }

    /// True if `task` has a space.
    pub fn has_space(&self, task: TaskId) -> bool {
        self.spaces.contains_key(&task)
    }

    /// Empty every slot of `task` (reason `TEARDOWN`, in slot order) and
    /// remove its space. Returns how many slots were occupied. Children in
    /// other tasks move up to their grandparents, as for a delete.
    pub fn destroy_space(&mut self, task: TaskId, ev: &mut impl CapEvents) -> usize {
        let Some(space) = self.spaces.get(&task) else {
            return 0;
        };
        let occupied: Vec<Slot> = (0..SLOTS)
            .filter(|&i| space.slots[i].is_some())
            .map(|i| Slot(i as u32))
            .collect();
        for &slot in &occupied {
            self.remove(SlotRef::new(task, slot), FreeReason::Teardown, ev);
        }
        self.spaces.remove(&task);
        occupied.len()
    }

    /// The capability in `at`: `ERANGE` for a bad index, `ENOENT` for an
    /// empty slot or a task without a space.
    pub fn lookup(&self, at: SlotRef) -> KResult<Cap> {
        self.node(at)?.map(|n| n.cap).ok_or(Error::NoEnt)
    }

    /// How many capabilities refer to `obj`.
    pub fn refs(&self, obj: ObjId) -> u32 {
        self.refs.get(&obj).copied().unwrap_or(0)
    }

    /// How many slots of `task` are occupied.
    pub fn occupied(&self, task: TaskId) -> usize {
        self.spaces.get(&task).map_or(0, |s| s.used)
    }

    /// The MDB parent of `at`, if it has one.
    pub fn parent(&self, at: SlotRef) -> Option<SlotRef> {
        self.node(at).ok().flatten().and_then(|n| n.parent)
    }

    /// The MDB children of `at`, most recent first.
    pub fn children(&self, at: SlotRef) -> Vec<SlotRef> {
        let mut out = Vec::new();
        let mut c = self.node(at).ok().flatten().and_then(|n| n.first_child);
        while let Some(r) = c {
            out.push(r);
            c = self.get(r).next;
        }
        out
    }

    // ---- create -------------------------------------------------------

    /// Check that `at` is an empty slot of an existing space.
    pub fn decode_insert(&self, at: SlotRef) -> KResult<InsertOp> {
        match self.node(at)? {
            Some(_) => Err(Error::Busy),
            None => Ok(InsertOp { at }),
        }
    }

    /// Put a fresh capability (a new MDB root) into the checked slot.
    pub fn invoke_insert(&mut self, op: InsertOp, cap: Cap, ev: &mut impl CapEvents) {
        self.place(op.at, cap, None, ev);
    }

    // ---- delete -------------------------------------------------------

    /// Check that `at` holds a capability.
    pub fn decode_delete(&self, at: SlotRef) -> KResult<DeleteOp> {
        self.lookup(at).map(|_| DeleteOp { at })
    }

    /// Empty the slot (reason `DELETE`); its MDB children move up.
    pub fn invoke_delete(&mut self, op: DeleteOp, ev: &mut impl CapEvents) {
        self.remove(op.at, FreeReason::Delete, ev);
    }

    // ---- map / grant --------------------------------------------------

    /// Check a map (copy) or, with `MAP_GRANT`, a grant (move) of `src`
    /// into `dst` with `rights` (which must be a subset of the source's).
    /// The source needs `RIGHT_MAP`. With `MAP_NO_OVERMAP` an occupied
    /// destination is `EBUSY`; without it, it will be replaced.
    pub fn decode_map(
        &self,
        src: SlotRef,
        dst: SlotRef,
        rights: u64,
        flags: u64,
    ) -> KResult<MapOp> {
        if flags & !(map_flags::GRANT | map_flags::NO_OVERMAP) != 0 {
            return Err(Error::Inval);
        }
        let rights = Rights::from_raw(rights)?;
        let cap = self.lookup(src)?;
        cap.rights.require(Rights::MAP)?;
        cap.rights.require(rights)?;
        let occupied = self.node(dst)?.is_some();
        if src == dst {
            return Err(Error::Inval);
        }
        if occupied && flags & map_flags::NO_OVERMAP != 0 {
            return Err(Error::Busy);
        }
        Ok(MapOp {
            src,
            dst,
            rights,
            grant: flags & map_flags::GRANT != 0,
        })
    }

    /// Carry out a checked map or grant.
    pub fn invoke_map(&mut self, op: MapOp, ev: &mut impl CapEvents) -> MapEvent {
        let replaced = self.get_opt(op.dst).map(|n| n.cap);
        if replaced.is_some() {
            self.remove(op.dst, FreeReason::Overmap, ev);
        }
        let src = self.get(op.src);
        let cap = Cap {
            rights: op.rights,
            ..src.cap
        };
        if op.grant {
            self.move_node(op.src, op.dst, op.rights, ev);
        } else {
            self.place(op.dst, cap, Some(op.src), ev);
        }
        let out = MapEvent {
            src: op.src,
            dst: op.dst,
            cap,
            src_rights: src.cap.rights,
            grant: op.grant,
            replaced,
        };
        ev.map(&out);
        out
    }

    // ---- unmap --------------------------------------------------------

    /// Check an unmap of `at`; `UNMAP_SELF` also empties `at` itself.
    pub fn decode_unmap(&self, at: SlotRef, flags: u64) -> KResult<UnmapOp> {
        if flags & !unmap_flags::SELF != 0 {
            return Err(Error::Inval);
        }
        self.lookup(at)?;
        Ok(UnmapOp {
            at,
            self_too: flags & unmap_flags::SELF != 0,
        })
    }

    /// Revoke every capability derived (transitively) from `at`. Returns
    /// how many were revoked (not counting `at` itself).
    pub fn invoke_unmap(&mut self, op: UnmapOp, ev: &mut impl CapEvents) -> u32 {
        // Pre-order walk; removing in reverse pre-order empties every node
        // after all of its descendants, so nothing is ever re-parented.
        let mut order = Vec::new();
        let mut stack = self.children(op.at);
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend(self.children(n));
        }
        let revoked = order.len() as u32;
        ev.unmap(op.at, self.get(op.at).cap, revoked);
        for &n in order.iter().rev() {
            self.remove(n, FreeReason::Revoke, ev);
        }
        if op.self_too {
            self.remove(op.at, FreeReason::Delete, ev);
        }
        revoked
    }

    // ---- internals ----------------------------------------------------

    /// `Err` for a bad index or a missing space, else the slot's node.
    fn node(&self, at: SlotRef) -> KResult<Option<&Node>> {
        if at.slot.index() >= SLOTS {
            return Err(Error::Range);
        }
        let space = self.spaces.get(&at.task).ok_or(Error::NoEnt)?;
        Ok(space.slots[at.slot.index()].as_ref())
    }

    fn get_opt(&self, at: SlotRef) -> Option<Node> {
        self.node(at).ok().flatten().copied()
    }

    /// The node at `at`, which the caller knows is occupied (an MDB link
    /// or a decoded operation points there).
    fn get(&self, at: SlotRef) -> Node {
        self.get_opt(at).expect("MDB link to an empty slot")
    }

    fn slot_mut(&mut self, at: SlotRef) -> &mut Option<Node> {
        &mut self
            .spaces
            .get_mut(&at.task)
            .expect("MDB link to a missing space")
            .slots[at.slot.index()]
    }

    fn node_mut(&mut self, at: SlotRef) -> &mut Node {
        self.slot_mut(at)
            .as_mut()
            .expect("MDB link to an empty slot")
    }

    /// Insert `cap` at the empty `at` as the first child of `parent`.
    fn place(&mut self, at: SlotRef, cap: Cap, parent: Option<SlotRef>, ev: &mut impl CapEvents) {
        *self.slot_mut(at) = Some(Node {
            cap,
            parent: None,
            first_child: None,
            prev: None,
            next: None,
        });
        self.spaces.get_mut(&at.task).expect("space").used += 1;
        if let Some(p) = parent {
            self.link(at, p);
        }
        *self.refs.entry(cap.obj).or_insert(0) += 1;
        ev.alloc(at, cap);
    }

    /// Make the unlinked node `child` the first child of `parent`.
    fn link(&mut self, child: SlotRef, parent: SlotRef) {
        let old_first = self.get(parent).first_child;
        if let Some(f) = old_first {
            self.node_mut(f).prev = Some(child);
        }
        let c = self.node_mut(child);
        c.parent = Some(parent);
        c.prev = None;
        c.next = old_first;
        self.node_mut(parent).first_child = Some(child);
    }

    /// Take `at` out of its parent's child list.
    fn unlink(&mut self, at: SlotRef) {
        let n = self.get(at);
        match n.prev {
            Some(p) => self.node_mut(p).next = n.next,
            None => {
                if let Some(parent) = n.parent {
                    self.node_mut(parent).first_child = n.next;
                }
            }
        }
        if let Some(nx) = n.next {
            self.node_mut(nx).prev = n.prev;
        }
        let m = self.node_mut(at);
        m.parent = None;
        m.prev = None;
        m.next = None;
    }

    /// Empty `at`: its children move up to its parent (or become roots).
    fn remove(&mut self, at: SlotRef, reason: FreeReason, ev: &mut impl CapEvents) {
        let parent = self.get(at).parent;
        for child in self.children(at) {
            self.unlink(child);
            if let Some(p) = parent {
                self.link(child, p);
            }
        }
        self.unlink(at);
        let node = self.slot_mut(at).take().expect("occupied");
        self.spaces.get_mut(&at.task).expect("space").used -= 1;
        ev.free(at, node.cap, reason);
        self.release(node.cap, ev);
    }

    fn release(&mut self, cap: Cap, ev: &mut impl CapEvents) {
        let count = self
            .refs
            .get_mut(&cap.obj)
            .expect("refcount of a mapped object");
        *count -= 1;
        if *count == 0 {
            self.refs.remove(&cap.obj);
            ev.last_cap(cap);
        }
    }

    /// Move the node at `src` to the empty `dst`, keeping its MDB place.
    fn move_node(&mut self, src: SlotRef, dst: SlotRef, rights: Rights, ev: &mut impl CapEvents) {
        let n = self.get(src);
        for child in self.children(src) {
            self.node_mut(child).parent = Some(dst);
        }
        match n.prev {
            Some(p) => self.node_mut(p).next = Some(dst),
            None => {
                if let Some(parent) = n.parent {
                    self.node_mut(parent).first_child = Some(dst);
                }
            }
        }
        if let Some(nx) = n.next {
            self.node_mut(nx).prev = Some(dst);
        }
        *self.slot_mut(src) = None;
        self.spaces.get_mut(&src.task).expect("space").used -= 1;
        ev.free(src, n.cap, FreeReason::Grant);
        let cap = Cap { rights, ..n.cap };
        *self.slot_mut(dst) = Some(Node { cap, ..n });
        self.spaces.get_mut(&dst.task).expect("space").used += 1;
        // The reference moves with the capability: the count is unchanged.
        ev.alloc(dst, cap);
    }
}

#[cfg(test)]
mod tests;
