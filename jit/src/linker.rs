//! What the JIT needs from whoever loads the program: map handles and helper
//! addresses, resolved once at compile time and embedded as constants.

use capscope_bytecode::abi::helpers::HelperFn;
use capscope_bytecode::insn::{HelperId, MapIdx};

/// Resolves a program's external references at compile time.
///
/// The kernel implements it over its loaded maps and helper table; host
/// tools implement it over the reference model. Whatever it returns is baked
/// into the machine code, so it must stay valid for as long as the compiled
/// program can run.
pub trait Linker {
    /// The handle `lddw rX, map[idx]` loads (what helpers receive as their
    /// map argument), or `None` if the program has no such map.
    fn map_handle(&self, idx: MapIdx) -> Option<u64>;

    /// The native implementation of helper `id`, or `None` if it is not
    /// available here.
    fn helper(&self, id: HelperId) -> Option<HelperFn>;

    /// The storage of an array or per-CPU array map, if `map_lookup_elem`
    /// on it may be inlined. The default says no, and every lookup calls
    /// the helper.
    fn array_map(&self, idx: MapIdx) -> Option<ArrayLayout> {
        let _ = idx;
        None
    }
}

/// Where an array map keeps its values, so a lookup becomes a bounds check
/// and an address computation instead of a call.
///
/// The promise: for every key `k < max_entries`, `map_lookup_elem(map, &k)`
/// made by a run of the program on CPU `cpu` (the second argument of
/// [`crate::JitFn`]) returns `values + cpu * cpu_stride + k * value_stride`,
/// and for every other key it returns null, for as long as the program
/// lives. For a per-CPU array that holds for every `cpu` the caller will
/// ever pass; for a plain array `cpu_stride` is 0 and the CPU plays no part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Address of entry 0 (of CPU 0's copy, for a per-CPU array).
    pub values: u64,
    /// Bytes from one entry to the next.
    pub value_stride: u32,
    /// Number of entries.
    pub max_entries: u32,
    /// Bytes from one CPU's copy of the values to the next: 0 for a plain
    /// array, whose one copy every CPU shares.
    pub cpu_stride: u64,
}
