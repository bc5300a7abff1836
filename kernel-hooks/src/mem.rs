//! Map memory: fallible allocation and word-wise byte access.
//!
//! Map storage is `[AtomicU64]`. Rust code (helpers on one CPU, the host
//! reader on another) only ever touches it with atomic word loads and
//! stores, so concurrent readers and writers are never a data race in
//! Rust's memory model; a multi-word value read while another CPU writes it
//! may mix old and new words, exactly as in Linux. JIT-compiled programs get
//! raw pointers into the same words: they are outside Rust's model and run
//! plain or `lock`-prefixed x86 instructions on them.
//!
//! Keys and values are stored in whole words, zero-padded, so comparing a
//! key is comparing words, and every value is 8-byte aligned (eBPF atomics
//! need natural alignment).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// An allocation the heap refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

/// A vector of `n` elements made by `f`, or an error instead of an abort
/// when the heap cannot provide it.
pub(crate) fn try_vec<T>(n: usize, mut f: impl FnMut() -> T) -> Result<Vec<T>, OutOfMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| OutOfMemory)?;
    // Capacity is reserved, so these pushes never reallocate.
    for _ in 0..n {
        v.push(f());
    }
    Ok(v)
}

/// `n` zeroed words.
pub(crate) fn words(n: usize) -> Result<Vec<AtomicU64>, OutOfMemory> {
    try_vec(n, || AtomicU64::new(0))
}

/// Words needed for `bytes` bytes.
pub(crate) const fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

/// Word `i` of `bytes`, little-endian, zero-padded past the end.
#[inline(always)]
pub(crate) fn word(bytes: &[u8], i: usize) -> u64 {
    let at = i * 8;
    match bytes.get(at..at + 8) {
        Some(w) => u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
        None => {
            let mut w = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or(&[]);
            w[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(w)
        }
    }
}

/// Word `c` of a chunk of at most 8 bytes, zero-padded.
#[inline(always)]
fn chunk_word(c: &[u8]) -> u64 {
    match <[u8; 8]>::try_from(c) {
        Ok(w) => u64::from_le_bytes(w),
        Err(_) => {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        }
    }
}

/// True if the stored words hold exactly `bytes` (zero-padded). The caller
/// passes as many words as `bytes` needs.
#[inline(always)]
pub(crate) fn eq(stored: &[AtomicU64], bytes: &[u8]) -> bool {
    stored.len() == words_for(bytes.len())
        && stored
            .iter()
            .zip(bytes.chunks(8))
            .all(|(w, c)| w.load(Relaxed) == chunk_word(c))
}

/// Store `bytes` into `dst`, zero-padding the last word.
#[inline]
pub(crate) fn store(dst: &[AtomicU64], bytes: &[u8]) {
    let mut chunks = bytes.chunks(8);
    for w in dst {
        w.store(chunks.next().map_or(0, chunk_word), Relaxed);
    }
}

/// Copy the first `out.len()` stored bytes out.
pub(crate) fn load(src: &[AtomicU64], out: &mut [u8]) {
    for (chunk, w) in out.chunks_mut(8).zip(src) {
        let b = w.load(Relaxed).to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Append the first `len` stored bytes to `out`.
pub(crate) fn load_into(src: &[AtomicU64], len: usize, out: &mut Vec<u8>) {
    let at = out.len();
    out.resize(at + len, 0);
    load(src, &mut out[at..]);
}

/// Zero every word.
pub(crate) fn zero(dst: &[AtomicU64]) {
    for w in dst {
        w.store(0, Relaxed);
    }
}

/// A raw pointer to the first byte of `w`, for a program to use.
#[inline(always)]
pub(crate) fn ptr(w: &[AtomicU64]) -> *mut u8 {
    // `AtomicU64` is `UnsafeCell`-based, so writing through a pointer taken
    // from a shared reference is allowed; it has the layout of `u64`.
    w.as_ptr() as *mut u8
}

/// The seeded hash of a key: a multiply-rotate over its words and a
/// murmur3 finalizer. Keys are chosen by (possibly hostile) user tasks, and
/// the seed differs per map, so a collision set for one map is not one for
/// another; chains are bounded by the map's capacity in any case.
#[inline(always)]
pub(crate) fn hash(bytes: &[u8], seed: u64) -> u64 {
    hash_iter(
        (0..words_for(bytes.len())).map(|i| word(bytes, i)),
        bytes.len(),
        seed,
    )
}

/// [`hash`] over words (stack frames).
pub(crate) fn hash_words(words: &[u64], seed: u64) -> u64 {
    hash_iter(words.iter().copied(), words.len() * 8, seed)
}

#[inline(always)]
fn hash_iter(words: impl Iterator<Item = u64>, len: usize, seed: u64) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (len as u64).wrapping_mul(K);
    for w in words {
        h = (h ^ w).wrapping_mul(K).rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_roundtrip_with_padding() {
        let w = words(2).unwrap();
        store(&w, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(w[1].load(Relaxed), 9);
        assert!(eq(&w, &[1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert!(!eq(&w, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]));
        let mut out = [0u8; 9];
        load(&w, &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        zero(&w);
        assert!(eq(&w, &[0; 9]));
    }

    #[test]
    fn hash_depends_on_seed_and_every_byte() {
        let k = [7u8; 12];
        let mut k2 = k;
        k2[11] = 8;
        assert_ne!(hash(&k, 1), hash(&k, 2));
        assert_ne!(hash(&k, 1), hash(&k2, 1));
    }
}
