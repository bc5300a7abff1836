//! The preallocated hash table every hash-like map is built on.
//!
//! All `max_entries` elements are allocated when the map is created and
//! kept on a free list, so an insert on the fire path pops an element and
//! never calls the allocator. Buckets are singly linked chains of element
//! indices. The table itself takes no locks: its callers (hash, per-CPU
//! hash, LRU hash) decide which operations run under which lock. Its state
//! is entirely atomics, so whatever a caller gets wrong can produce a wrong
//! answer but never undefined behaviour, and every walk is bounded by the
//! capacity, so not even a cycle created by a racing reuse can hang it.
//!
//! Two promises make lock-free lookups possible where a caller wants them
//! (the per-CPU hash, where only the owning CPU ever reuses elements):
//! an insert writes key and value *before* it publishes the element with a
//! release store, and unlinking leaves the element's own `next` link intact,
//! so a reader standing on an unlinked element still walks on correctly.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

use crate::mem::{self, OutOfMemory};

/// End of a chain or of the free list.
pub(crate) const NIL: u32 = u32::MAX;

/// The table was full.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

pub(crate) struct Table {
    key_size: usize,
    kw: usize,
    /// Words per element: key words plus value words.
    stride: usize,
    cap: u32,
    mask: usize,
    buckets: Vec<AtomicU32>,
    next: Vec<AtomicU32>,
    /// Free-list link: separate from `next` so freeing does not disturb a
    /// reader still walking through the element.
    free_next: Vec<AtomicU32>,
    /// The bucket each element is linked into (for unlinking by index).
    home: Vec<AtomicU32>,
    data: Vec<AtomicU64>,
    free: AtomicU32,
    len: AtomicU32,
}

impl Table {
    fn bucket_count(cap: u32) -> usize {
        (cap as usize).next_power_of_two()
    }

    /// Bytes [`Table::new`] allocates, computed without allocating.
    pub(crate) fn footprint(key_size: u32, value_size: u32, cap: u32) -> u64 {
        let stride =
            (mem::words_for(key_size as usize) + mem::words_for(value_size as usize)) as u64;
        Self::bucket_count(cap) as u64 * 4 + cap as u64 * (3 * 4 + stride * 8)
    }

    pub(crate) fn new(key_size: u32, value_size: u32, cap: u32) -> Result<Table, OutOfMemory> {
        let kw = mem::words_for(key_size as usize);
        let vw = mem::words_for(value_size as usize);
        let n = cap as usize;
        let nb = Self::bucket_count(cap);
        let mut i = 0u32;
        let free_next = mem::try_vec(n, || {
            i += 1;
            AtomicU32::new(if i as usize == n { NIL } else { i })
        })?;
        Ok(Table {
            key_size: key_size as usize,
            kw,
            stride: kw + vw,
            cap,
            mask: nb - 1,
            buckets: mem::try_vec(nb, || AtomicU32::new(NIL))?,
            next: mem::try_vec(n, || AtomicU32::new(NIL))?,
            free_next,
            home: mem::try_vec(n, || AtomicU32::new(0))?,
            data: mem::words(n * (kw + vw))?,
            free: AtomicU32::new(if n == 0 { NIL } else { 0 }),
            len: AtomicU32::new(0),
        })
    }

    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The bucket for a hash.
    #[inline(always)]
    pub(crate) fn bucket_of(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    /// Entries in use.
    pub(crate) fn len(&self) -> u32 {
        self.len.load(Relaxed)
    }

    #[inline(always)]
    fn elem(&self, i: u32) -> &[AtomicU64] {
        let s = i as usize * self.stride;
        self.data.get(s..s + self.stride).unwrap_or(&[])
    }

    /// The stored key words of element `i`.
    #[inline(always)]
    pub(crate) fn key(&self, i: u32) -> &[AtomicU64] {
        self.elem(i).get(..self.kw).unwrap_or(&[])
    }

    /// The value words of element `i`.
    #[inline(always)]
    pub(crate) fn value(&self, i: u32) -> &[AtomicU64] {
        self.elem(i).get(self.kw..).unwrap_or(&[])
    }

    #[inline(always)]
    fn link(v: &[AtomicU32], i: u32) -> u32 {
        v.get(i as usize).map_or(NIL, |a| a.load(Acquire))
    }

    /// Find `key` in bucket `b`. Safe to call without a lock; see the
    /// module docs for when the answer can be trusted.
    #[inline(always)]
    pub(crate) fn find(&self, b: usize, key: &[u8]) -> Option<u32> {
        if self.kw == 1 {
            // Keys of up to 8 bytes (task ids, syscall numbers, stack ids):
            // one word, compared with one load per element.
            let w = mem::word(key, 0);
            return self.walk(b, |i| {
                self.data
                    .get(i as usize * self.stride)
                    .is_some_and(|k| k.load(Relaxed) == w)
            });
        }
        self.walk(b, |i| mem::eq(self.key(i), key))
    }

    /// The first element of bucket `b`'s chain that `is` accepts.
    #[inline(always)]
    fn walk(&self, b: usize, is: impl Fn(u32) -> bool) -> Option<u32> {
        let mut i = Self::link(&self.buckets, b as u32);
        let mut steps = 0;
        while i != NIL && steps < self.cap {
            if is(i) {
                return Some(i);
            }
            i = Self::link(&self.next, i);
            steps += 1;
        }
        None
    }

    /// Insert an absent key into bucket `b` with `value` (zeros if `None`).
    /// The caller holds the lock that serializes structural changes.
    pub(crate) fn insert(&self, b: usize, key: &[u8], value: Option<&[u8]>) -> Result<u32, Full> {
        let i = self.free.load(Relaxed);
        if i == NIL {
            return Err(Full);
        }
        self.free.store(Self::link(&self.free_next, i), Relaxed);
        mem::store(self.key(i), key);
        match value {
            Some(v) => mem::store(self.value(i), v),
            None => mem::zero(self.value(i)),
        }
        if let (Some(n), Some(h), Some(head)) = (
            self.next.get(i as usize),
            self.home.get(i as usize),
            self.buckets.get(b),
        ) {
            n.store(head.load(Relaxed), Relaxed);
            h.store(b as u32, Relaxed);
            // Publish: a reader that sees `i` in the chain sees its key and value.
            head.store(i, Release);
        }
        self.len.fetch_add(1, Relaxed);
        Ok(i)
    }

    /// Unlink element `i` from its bucket and put it on the free list. The
    /// caller holds the structural lock. Returns false if `i` was not linked.
    pub(crate) fn remove_index(&self, i: u32) -> bool {
        let Some(b) = self.home.get(i as usize).map(|h| h.load(Relaxed) as usize) else {
            return false;
        };
        let Some(head) = self.buckets.get(b) else {
            return false;
        };
        let after = Self::link(&self.next, i);
        let mut cur = head.load(Relaxed);
        if cur == i {
            head.store(after, Release);
        } else {
            let mut steps = 0;
            loop {
                if cur == NIL || steps >= self.cap {
                    return false;
                }
                let Some(n) = self.next.get(cur as usize) else {
                    return false;
                };
                let nx = n.load(Relaxed);
                if nx == i {
                    n.store(after, Release);
                    break;
                }
                cur = nx;
                steps += 1;
            }
        }
        // `next[i]` stays as it was, for readers standing on `i`.
        if let Some(f) = self.free_next.get(i as usize) {
            f.store(self.free.load(Relaxed), Relaxed);
            self.free.store(i, Relaxed);
        }
        self.len.fetch_sub(1, Relaxed);
        true
    }

    /// Remove `key` from bucket `b` (caller holds the structural lock).
    pub(crate) fn remove(&self, b: usize, key: &[u8]) -> Option<u32> {
        let i = self.find(b, key)?;
        self.remove_index(i).then_some(i)
    }

    /// Call `f` with each element linked in bucket `b`.
    pub(crate) fn for_each(&self, b: usize, mut f: impl FnMut(u32)) {
        let mut i = Self::link(&self.buckets, b as u32);
        let mut steps = 0;
        while i != NIL && steps < self.cap {
            f(i);
            i = Self::link(&self.next, i);
            steps += 1;
        }
    }

    /// Remove every element of bucket `b` (caller holds the structural lock).
    pub(crate) fn clear_bucket(&self, b: usize) {
        while let Some(i) = {
            let h = Self::link(&self.buckets, b as u32);
            (h != NIL).then_some(h)
        } {
            if !self.remove_index(i) {
                break;
            }
        }
    }

    /// Key size in bytes.
    pub(crate) fn key_size(&self) -> usize {
        self.key_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u64) -> [u8; 8] {
        n.to_le_bytes()
    }

    #[test]
    fn insert_find_remove_and_reuse() {
        let t = Table::new(8, 8, 3).unwrap();
        let ins = |n: u64| {
            let b = t.bucket_of(n);
            t.insert(b, &k(n), Some(&k(n * 10)))
        };
        assert!(ins(1).is_ok() && ins(2).is_ok() && ins(5).is_ok());
        assert_eq!(ins(7), Err(Full));
        assert_eq!(t.len(), 3);
        let i = t.find(t.bucket_of(5), &k(5)).unwrap();
        let mut v = [0u8; 8];
        mem::load(t.value(i), &mut v);
        assert_eq!(u64::from_le_bytes(v), 50);
        assert!(t.remove(t.bucket_of(2), &k(2)).is_some());
        assert!(t.find(t.bucket_of(2), &k(2)).is_none());
        assert!(ins(7).is_ok());
        assert!(t.find(t.bucket_of(7), &k(7)).is_some());
        for b in 0..t.buckets() {
            t.clear_bucket(b);
        }
        assert_eq!(t.len(), 0);
        assert!(ins(1).is_ok() && ins(2).is_ok() && ins(3).is_ok());
    }

    #[test]
    fn chains_of_colliding_keys_unlink_from_the_middle() {
        let t = Table::new(8, 8, 8).unwrap();
        for n in 0..8 {
            t.insert(0, &k(n), None).unwrap();
        }
        assert!(t.remove(0, &k(3)).is_some());
        assert!(t.remove(0, &k(0)).is_some());
        assert!(t.remove(0, &k(7)).is_some());
        let mut seen = alloc::vec::Vec::new();
        t.for_each(0, |i| {
            let mut b = [0u8; 8];
            mem::load(t.key(i), &mut b);
            seen.push(u64::from_le_bytes(b));
        });
        seen.sort();
        assert_eq!(seen, [1, 2, 4, 5, 6]);
    }
}
