//! A lean map environment for the benchmarks: fixed-capacity open-addressing
//! hash maps and flat arrays of 8-byte values, whose handle is the map's own
//! address, so a helper is a few instructions plus the probe. The model
//! environment is written to be obviously right, not fast (its lookup costs
//! ~60 ns), and would hide the engines' own costs behind the helper's.
//!
//! Every engine uses the same implementation: the interpreter through
//! [`FastEnv`]'s `Env::call`, the JIT and native Rust through the
//! `extern "C"` helpers, rbpf through safe wrappers of them.

use capscope_bytecode::abi::consts::errno;
use capscope_bytecode::abi::helpers::{HelperFn, id};
use capscope_bytecode::insn::{HelperId, MapIdx};
use capscope_bytecode::interp::{Env, TrapKind};
use capscope_bytecode::object::{MapDef, MapKind};
use capscope_jit::{ArrayLayout, Linker};

/// One map. Keys are at most 8 bytes, values exactly 8.
pub struct FastMap {
    def: MapDef,
    mask: u64,
    used: Vec<bool>,
    keys: Vec<u64>,
    values: Vec<u64>,
    len: u32,
}

impl FastMap {
    fn new(def: &MapDef) -> Box<FastMap> {
        assert!(def.key_size <= 8 && def.value_size == 8);
        let slots = if def.kind == MapKind::Array {
            def.max_entries as usize
        } else {
            (def.max_entries as usize * 2).next_power_of_two()
        };
        Box::new(FastMap {
            def: def.clone(),
            mask: slots as u64 - 1,
            used: vec![def.kind == MapKind::Array; slots],
            keys: vec![0; slots],
            values: vec![0; slots],
            len: 0,
        })
    }

    /// # Safety
    /// `key` points to `key_size` readable bytes.
    unsafe fn key(&self, key: u64) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: the caller's promise.
        unsafe {
            core::ptr::copy_nonoverlapping(
                key as *const u8,
                b.as_mut_ptr(),
                self.def.key_size as usize,
            )
        };
        u64::from_le_bytes(b)
    }

    fn slot(&self, k: u64) -> Result<usize, usize> {
        let mut i = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) & self.mask;
        loop {
            let s = i as usize;
            if !self.used[s] {
                return Err(s);
            }
            if self.keys[s] == k {
                return Ok(s);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn lookup(&mut self, k: u64) -> u64 {
        if self.def.kind == MapKind::Array {
            return if k < u64::from(self.def.max_entries) {
                &mut self.values[k as usize] as *mut u64 as u64
            } else {
                0
            };
        }
        match self.slot(k) {
            Ok(s) => &mut self.values[s] as *mut u64 as u64,
            Err(_) => 0,
        }
    }

    fn update(&mut self, k: u64, v: u64) -> u64 {
        if self.def.kind == MapKind::Array {
            if k >= u64::from(self.def.max_entries) {
                return (errno::E2BIG as i64).wrapping_neg() as u64;
            }
            self.values[k as usize] = v;
            return 0;
        }
        match self.slot(k) {
            Ok(s) => self.values[s] = v,
            Err(s) => {
                if self.len >= self.def.max_entries {
                    return (errno::E2BIG as i64).wrapping_neg() as u64;
                }
                self.used[s] = true;
                self.keys[s] = k;
                self.values[s] = v;
                self.len += 1;
            }
        }
        0
    }
}

/// # Safety
/// `map` is a `FastMap` handle; `key` points to its key size of bytes.
pub unsafe extern "C" fn fast_lookup(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    // SAFETY: the caller's promise; a handle is the map's address.
    unsafe {
        let m = &mut *(map as *mut FastMap);
        let k = m.key(key);
        m.lookup(k)
    }
}

/// # Safety
/// As for [`fast_lookup`], and `value` points to 8 readable bytes.
pub unsafe extern "C" fn fast_update(map: u64, key: u64, value: u64, _: u64, _: u64) -> u64 {
    // SAFETY: the caller's promise.
    unsafe {
        let m = &mut *(map as *mut FastMap);
        let k = m.key(key);
        m.update(k, (value as *const u64).read_unaligned())
    }
}

pub fn rb_fast_lookup(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // SAFETY: the benchmark programs pass their map handle and a stack key.
    unsafe { fast_lookup(a, b, c, d, e) }
}

pub fn rb_fast_update(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // SAFETY: as above, with a stack value.
    unsafe { fast_update(a, b, c, d, e) }
}

/// The maps of one program.
pub struct FastEnv {
    // Boxed: a handle is the map's address, which must never move.
    #[allow(clippy::vec_box)]
    maps: Vec<Box<FastMap>>,
}

impl FastEnv {
    pub fn new(defs: &[MapDef]) -> FastEnv {
        FastEnv {
            maps: defs.iter().map(FastMap::new).collect(),
        }
    }

    pub fn handle(&self, idx: MapIdx) -> Option<u64> {
        self.maps
            .get(idx.0 as usize)
            .map(|m| &**m as *const FastMap as u64)
    }
}

// SAFETY: lookups return the address of an 8-byte value slot owned by the
// map's vector, which never reallocates; helpers only read the key (and
// value) bytes the table declares; `map_def` answers exactly for handles.
unsafe impl Env for FastEnv {
    fn map_handle(&mut self, idx: MapIdx) -> Option<u64> {
        self.handle(idx)
    }

    fn map_def(&self, handle: u64) -> Option<&MapDef> {
        self.maps
            .iter()
            .find(|m| &***m as *const FastMap as u64 == handle)
            .map(|m| &m.def)
    }

    unsafe fn call(&mut self, h: HelperId, a: [u64; 5]) -> Result<u64, TrapKind> {
        // SAFETY: the interpreter checked the pointer arguments.
        unsafe {
            match h {
                id::MAP_LOOKUP_ELEM => Ok(fast_lookup(a[0], a[1], a[2], a[3], a[4])),
                id::MAP_UPDATE_ELEM => Ok(fast_update(a[0], a[1], a[2], a[3], a[4])),
                _ => Err(TrapKind::UnknownHelper(h)),
            }
        }
    }
}

/// The JIT's view of a [`FastEnv`]; with `inline_arrays`, it also exposes
/// array storage so that lookups compile to a bounds check.
pub struct FastLinker<'a> {
    pub env: &'a FastEnv,
    pub inline_arrays: bool,
}

impl Linker for FastLinker<'_> {
    fn map_handle(&self, idx: MapIdx) -> Option<u64> {
        self.env.handle(idx)
    }

    fn helper(&self, h: HelperId) -> Option<HelperFn> {
        match h {
            id::MAP_LOOKUP_ELEM => Some(fast_lookup),
            id::MAP_UPDATE_ELEM => Some(fast_update),
            _ => None,
        }
    }

    fn array_map(&self, idx: MapIdx) -> Option<ArrayLayout> {
        let m = self.env.maps.get(idx.0 as usize)?;
        (self.inline_arrays && m.def.kind == MapKind::Array).then_some(ArrayLayout {
            values: m.values.as_ptr() as u64,
            value_stride: 8,
            max_entries: m.def.max_entries,
            cpu_stride: 0,
        })
    }
}
