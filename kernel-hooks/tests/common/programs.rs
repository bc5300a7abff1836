//! eBPF programs shaped like the language's lowering, and the steps the JIT
//! tests and the fire benchmark share: build an object, compile a script
//! with the language, load through the kernel's engine (verify + JIT), fire
//! `syscall:enter`, decode values. The tests reach it through `common`; the
//! benchmark includes this file by path, so it depends on nothing else of
//! `common`.
#![allow(dead_code)]

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::abi::context::{EventHeader, SyscallEnterCtx};
use capscope_bytecode::object::{AttachSpec, MapDef, MapDisplay, MapKind, ProbeObject, ProgramDef};
use capscope_kernel_hooks::{
    HostCodeMemory, JitEngine, JitOptions, LoadError, ObjectId, fire, load_object,
};

/// `r0 = 0; exit`
pub const EMPTY: &str = "r0 = 0\nexit\n";

/// A key of 0 at `r10 - 8` (`@ = count()` in a hash).
pub const KEY_ZERO: &str = "r1 = 0\n*(u64 *)(r10 - 8) = r1\n";

/// `args.nr` as the key at `r10 - 8` (`@[args.nr] = count()`).
pub const KEY_NR: &str = "r2 = *(u64 *)(r1 + 24)\n*(u64 *)(r10 - 8) = r2\n";

/// bpftrace's log2 bucket of `args.arg0` (0 for negative values, 1 for 0,
/// `k + 2` for `2^k <= x < 2^(k+1)`) by binary search, as the key at
/// `r10 - 8`.
pub const KEY_LOG2_ARG0: &str = "
    r6 = *(u64 *)(r1 + 32)
    r7 = 0
    if r6 s< 0 goto key
    r7 = 1
    if r6 == 0 goto key
    r8 = 0
    r2 = r6
    r3 = r2
    r3 >>= 32
    if r3 == 0 goto b16
    r8 += 32
    r2 = r3
b16:
    r3 = r2
    r3 >>= 16
    if r3 == 0 goto b8
    r8 += 16
    r2 = r3
b8:
    r3 = r2
    r3 >>= 8
    if r3 == 0 goto b4
    r8 += 8
    r2 = r3
b4:
    r3 = r2
    r3 >>= 4
    if r3 == 0 goto b2
    r8 += 4
    r2 = r3
b2:
    r3 = r2
    r3 >>= 2
    if r3 == 0 goto b1
    r8 += 2
    r2 = r3
b1:
    r3 = r2
    r3 >>= 1
    if r3 == 0 goto done
    r8 += 1
done:
    r7 = r8
    r7 += 2
key:
    *(u64 *)(r10 - 8) = r7
";

/// How a count's hit path adds 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Add {
    /// `lock add`, as the language emits.
    Atomic,
    /// Load, add, store: enough on a per-CPU map, whose values only their
    /// own CPU writes.
    Plain,
}

fn hit(add: Add) -> &'static str {
    match add {
        Add::Atomic => "r1 = 1\nlock *(u64 *)(r0 + 0) += r1\n",
        Add::Plain => "r1 = *(u64 *)(r0 + 0)\nr1 += 1\n*(u64 *)(r0 + 0) = r1\n",
    }
}

/// `count()` into a per-CPU hash (map 0) as the language lowers keyed
/// aggregations: `key` stores the key at `r10 - 8`, then lookup, add 1 on
/// a hit, insert 1 on a miss.
pub fn count_hash(key: &str, add: Add) -> String {
    format!(
        "{key}
    r2 = r10
    r2 += -8
    r1 = map[0] ll
    call map_lookup_elem
    if r0 == 0 goto miss
{hit}
    r0 = 0
    exit
miss:
    r1 = 1
    *(u64 *)(r10 - 16) = r1
    r2 = r10
    r2 += -8
    r3 = r10
    r3 += -16
    r4 = 0
    r1 = map[0] ll
    call map_update_elem
    r0 = 0
    exit
",
        hit = hit(add)
    )
}

/// `@ = count()` into a one-entry per-CPU array (map 0), as the language
/// lowers key-less aggregations: a lookup that always hits, then add 1.
/// With [`Add::Atomic`] these are exactly the language's instructions
/// (checked in `tests/jit.rs`).
pub fn count_array(add: Add) -> String {
    format!(
        "
    r6 = r1
    *(u32 *)(r10 - 8) = 0
    r1 = map[0] ll
    r2 = r10
    r2 += -8
    call map_lookup_elem
    if r0 == 0 goto done
{hit}
done:
    r0 = 0
    exit
",
        hit = hit(add)
    )
}

/// Appends `{5}` to the ring buffer `map[ring]` (BEGIN and END markers).
pub fn mark(ring: u32) -> String {
    format!(
        "
    r1 = 5
    *(u64 *)(r10 - 8) = r1
    r2 = r10
    r2 += -8
    r3 = 8
    r4 = 0
    r1 = map[{ring}] ll
    call ringbuf_output
    r0 = 0
    exit
"
    )
}

pub fn map(name: &str, kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        name: name.into(),
        kind,
        key_size,
        value_size,
        max_entries,
        display: MapDisplay::default(),
    }
}

pub fn obj(maps: Vec<MapDef>, programs: Vec<ProgramDef>) -> ProbeObject {
    ProbeObject {
        maps,
        programs,
        formats: vec![],
    }
}

/// A program at `point` assembled from `text`.
pub fn program(point: AttachPoint, text: &str) -> ProgramDef {
    ProgramDef {
        name: point.name().into(),
        attach: AttachSpec {
            point,
            period_ns: 0,
        },
        insns: capscope_bytecode::asm::assemble(text).unwrap_or_else(|e| panic!("{e:?}\n{text}")),
        lines: vec![],
    }
}

/// The object the language compiles `src` to.
pub fn compile(src: &str) -> ProbeObject {
    match capscope_lang::compile(src) {
        Ok(c) => c.object,
        Err(e) => panic!("{}", e.render("test.probe", src)),
    }
}

/// Load through the kernel's engine: verify, JIT-compile, attach.
pub fn load_jit(o: &ProbeObject) -> Result<ObjectId, LoadError> {
    let mut mem = HostCodeMemory;
    let mut engine = JitEngine::new(&JitOptions::host(), &mut mem)?;
    load_object(o, &mut engine)
}

/// A `syscall:enter` context: task 3, thread 4, at `ts` ns.
pub fn syscall_ctx(ts: u64, nr: u64, arg0: u64) -> SyscallEnterCtx {
    SyscallEnterCtx {
        header: EventHeader {
            timestamp_ns: ts,
            cpu: 0,
            task: 3,
            thread: 4,
            _reserved: 0,
        },
        nr,
        arg0,
        ..Default::default()
    }
}

/// Fire `syscall:enter` with `nr` and `arg0`.
pub fn syscall(nr: u64, arg0: u64) {
    fire(AttachPoint::SyscallEnter, || syscall_ctx(5, nr, arg0));
}

/// Little-endian u64 words.
pub fn u64s(b: &[u8]) -> Vec<u64> {
    b.chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}
