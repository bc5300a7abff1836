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
        None => chunk_word(bytes.get(at..).unwrap_or(&[])),
    }
}

/// A chunk of at most 8 bytes as a little-endian word, zero-padded. Built
/// from 4-, 2- and 1-byte loads rather than a copy into a buffer, which
/// for a variable length is a call to `memcpy` (keys of 4 bytes, such as
/// a task id, are common).
#[inline(always)]
fn chunk_word(c: &[u8]) -> u64 {
    if let Ok(w) = <[u8; 8]>::try_from(c) {
        return u64::from_le_bytes(w);
    }
    let (mut w, mut shift, mut rest) = (0u64, 0u32, c);
    if let Some((four, tail)) = rest.split_first_chunk::<4>() {
        w = u64::from(u32::from_le_bytes(*four));
        (shift, rest) = (32, tail);
    }
    if let Some((two, tail)) = rest.split_first_chunk::<2>() {
        w |= u64::from(u16::from_le_bytes(*two)) << shift;
        shift += 16;
        rest = tail;
    }
    if let Some(&b) = rest.first() {
        w |= u64::from(b) << shift;
    }
    w
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

/// The seeded hash of a key: one folded multiply per 8-byte word (the
/// 128-bit product of the running hash xor the word and an odd constant,
/// its halves xored), the scheme of foldhash and aHash's fallback. A
/// single multiply-and-fold mixes every input bit into the low bits that
/// pick the bucket, so a one-word key (a task id, a syscall number) costs
/// one `mul`; the previous multiply-rotate with a murmur3 finalizer cost
/// three multiplies and five shifts.
///
/// Hash flooding: keys come from events that tasks cause (syscall numbers
/// and arguments, slot numbers), not from a remote attacker, and the seed
/// is per map, drawn at load time and never visible to tasks or programs,
/// so a set of colliding keys cannot be computed offline. This is not a
/// keyed PRF like SipHash, though: a task that could time its own events
/// finely enough might find collisions; what bounds the damage is that a
/// chain is never longer than the map's capacity, and a per-CPU map's
/// chains are per CPU.
#[inline(always)]
pub(crate) fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = start(bytes.len(), seed);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = step(
            h,
            u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
        );
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        h = step(h, chunk_word(tail));
    }
    h
}

/// [`hash`] over words (stack frames).
pub(crate) fn hash_words(words: &[u64], seed: u64) -> u64 {
    words
        .iter()
        .fold(start(words.len() * 8, seed), |h, &w| step(h, w))
}

/// The 128-bit product of `a` and `b`, folded to 64 bits.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

// Odd constants from the fractional digits of pi (as in foldhash).
const K: u64 = 0x243f_6a88_85a3_08d3;
const L: u64 = 0x1319_8a2e_0370_7344;

/// The hash state before the first word of a `len`-byte key.
#[inline(always)]
fn start(len: usize, seed: u64) -> u64 {
    seed ^ (len as u64).wrapping_mul(L)
}

/// The hash state after one more word.
#[inline(always)]
fn step(h: u64, w: u64) -> u64 {
    fold_mul(h ^ w, K)
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
        for i in 0..k.len() {
            let mut k2 = k;
            k2[i] = 8;
            assert_ne!(hash(&k, 1), hash(&k2, 1), "byte {i}");
        }
        assert_ne!(hash(&k, 1), hash(&k, 2));
        // Zero padding: a shorter key with trailing zeros is another key.
        assert_ne!(hash(&[1, 0, 0, 0], 1), hash(&[1, 0, 0, 0, 0, 0, 0, 0], 1));
    }

    #[test]
    fn short_words_read_like_padded_ones() {
        let b: Vec<u8> = (1..=15).collect();
        for len in 0..=b.len() {
            let mut padded = [0u8; 16];
            padded[..len].copy_from_slice(&b[..len]);
            for i in 0..2 {
                let want = u64::from_le_bytes(padded[i * 8..i * 8 + 8].try_into().unwrap());
                assert_eq!(word(&b[..len], i), want, "len {len} word {i}");
            }
        }
    }

    /// Sequential keys (task ids, syscall numbers) spread over the buckets
    /// a power-of-two table takes from the low bits.
    #[test]
    fn sequential_keys_fill_buckets_evenly() {
        for seed in [0, 1, 0x5eed_f00d] {
            let mut buckets = [0u32; 64];
            for k in 0u32..4096 {
                buckets[hash(&k.to_le_bytes(), seed) as usize & 63] += 1;
            }
            let (lo, hi) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
            // 64 per bucket on average; a poor hash piles keys up.
            assert!(*lo >= 32 && *hi <= 100, "seed {seed}: {lo}..{hi}");
        }
    }
}
