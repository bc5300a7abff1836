//! The interpreter's view of memory: real addresses, checked regions.
//!
//! Programs compute with real host addresses (see "Addresses are real" in
//! docs/architecture.md): r1 is the address of the context bytes, r10 is one
//! past a real 512-byte stack frame, and map values are wherever the
//! environment keeps them. This module is the only part of the interpreter
//! that turns such a number back into a pointer.
//!
//! In checked mode an access is allowed only if it lies entirely inside one
//! region: the context (read-only), one live stack frame, or one map value
//! the environment handed out. Stack frames also carry two bitmaps: which
//! bytes were written (reading others traps) and which bytes hold pointer
//! bits (so a pointer spilled to the stack and reloaded is still known to be
//! one).
//!
//! Frame memory is allocated as raw boxes and only ever touched through raw
//! pointers (by the program and by helpers the program passes stack pointers
//! to), so no Rust reference to it exists while a helper writes it.
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ptr::NonNull;

use super::trap::{ArgProblem, LeakSink, TrapKind};
use crate::insn::STACK_SIZE;

/// One stack frame's bytes, 8-aligned so r10 is too.
#[repr(C, align(8))]
struct FrameBytes([u8; STACK_SIZE]);

const WORDS: usize = STACK_SIZE / 64;

/// A bitmap with one bit per stack byte.
#[derive(Clone, Copy)]
struct ByteBits([u64; WORDS]);

impl ByteBits {
    const EMPTY: ByteBits = ByteBits([0; WORDS]);

    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    fn set(&mut self, i: usize, v: bool) {
        let bit = 1u64 << (i % 64);
        if v {
            self.0[i / 64] |= bit;
        } else {
            self.0[i / 64] &= !bit;
        }
    }

    fn all(&self, off: usize, len: usize) -> bool {
        (off..off + len).all(|i| self.get(i))
    }

    fn any(&self, off: usize, len: usize) -> bool {
        (off..off + len).any(|i| self.get(i))
    }

    fn fill(&mut self, off: usize, len: usize, v: bool) {
        for i in off..off + len {
            self.set(i, v);
        }
    }
}

/// A frame buffer, owned through a raw pointer (see the module docs).
struct FrameBuf {
    ptr: NonNull<FrameBytes>,
    base: u64,
    written: ByteBits,
    pointer: ByteBits,
}

impl FrameBuf {
    fn new() -> FrameBuf {
        let ptr = NonNull::from(Box::leak(Box::new(FrameBytes([0; STACK_SIZE]))));
        // Exposing the provenance lets the program's integer addresses (and
        // helpers given them) become pointers into this buffer again.
        let base = ptr.as_ptr().expose_provenance() as u64;
        FrameBuf {
            ptr,
            base,
            written: ByteBits::EMPTY,
            pointer: ByteBits::EMPTY,
        }
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::leak` in `FrameBuf::new`, is freed
        // only here, and no access can follow: the run that used it is over.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

/// Where a checked access landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// In live frame `frame`, at byte `off` of it.
    Stack { frame: usize, off: usize },
    /// In the context.
    Ctx,
    /// In a map value handed out by a helper.
    Value,
}

/// The memory one run may touch.
pub(crate) struct Memory<'ctx> {
    ctx_base: u64,
    ctx_len: u64,
    frames: Vec<FrameBuf>,
    /// Frames `0..depth` are live; later ones are kept for reuse.
    depth: usize,
    /// Granted map-value regions: base -> length.
    grants: BTreeMap<u64, u64>,
    /// False in trusted mode: accesses go straight to memory.
    checked: bool,
    _ctx: PhantomData<&'ctx [u8]>,
}

impl<'ctx> Memory<'ctx> {
    /// Memory for a run over `ctx`, with one (the outermost) frame live.
    pub(crate) fn new(ctx: &'ctx [u8]) -> Memory<'ctx> {
        let mut m = Memory {
            ctx_base: ctx.as_ptr().expose_provenance() as u64,
            ctx_len: ctx.len() as u64,
            frames: Vec::new(),
            depth: 0,
            grants: BTreeMap::new(),
            checked: true,
            _ctx: PhantomData,
        };
        m.push_frame();
        m
    }

    /// Memory for a trusted run: no region, initialization or pointer checks.
    ///
    /// # Safety
    /// The program run over this memory must have been accepted by the
    /// verifier, so that every access it makes is in bounds.
    pub(crate) unsafe fn new_trusted(ctx: &'ctx [u8]) -> Memory<'ctx> {
        let mut m = Memory::new(ctx);
        m.checked = false;
        m
    }

    /// True in the memory-checked mode.
    pub(crate) fn checked(&self) -> bool {
        self.checked
    }

    /// The context pointer the program receives in r1.
    pub(crate) fn ctx_ptr(&self) -> u64 {
        self.ctx_base
    }

    /// Make a fresh frame live (all bytes unwritten) and return its r10.
    pub(crate) fn push_frame(&mut self) -> u64 {
        if self.depth == self.frames.len() {
            self.frames.push(FrameBuf::new());
        }
        let f = &mut self.frames[self.depth];
        f.written = ByteBits::EMPTY;
        f.pointer = ByteBits::EMPTY;
        self.depth += 1;
        f.base + STACK_SIZE as u64
    }

    /// Retire the innermost frame; pointers into it stop being valid.
    pub(crate) fn pop_frame(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// r10 of the innermost live frame.
    pub(crate) fn frame_pointer(&self) -> u64 {
        self.frames
            .get(self.depth.wrapping_sub(1))
            .map_or(0, |f| f.base + STACK_SIZE as u64)
    }

    /// Allow reads and writes of `[base, base + len)`: a map value a helper
    /// returned.
    pub(crate) fn grant(&mut self, base: u64, len: u64) {
        let e = self.grants.entry(base).or_insert(0);
        *e = (*e).max(len);
    }

    /// Which region wholly contains `[addr, addr + len)`, if any.
    pub(crate) fn locate(&self, addr: u64, len: u64) -> Option<Place> {
        let end = addr.checked_add(len)?;
        for (i, f) in self.frames[..self.depth].iter().enumerate() {
            if addr >= f.base && end <= f.base + STACK_SIZE as u64 {
                return Some(Place::Stack {
                    frame: i,
                    off: (addr - f.base) as usize,
                });
            }
        }
        if addr >= self.ctx_base && end <= self.ctx_base + self.ctx_len {
            return Some(Place::Ctx);
        }
        let (&base, &glen) = self.grants.range(..=addr).next_back()?;
        (end <= base.saturating_add(glen)).then_some(Place::Value)
    }

    /// A checked load of `size` bytes; returns the value (zero-extended) and
    /// whether it carries pointer bits.
    pub(crate) fn load(&self, addr: u64, size: usize) -> Result<(u64, bool), TrapKind> {
        if !self.checked {
            // SAFETY: trusted mode; `new_trusted`'s caller promised a
            // verified program, whose accesses are in bounds.
            return Ok((unsafe { read_raw(addr, size) }, false));
        }
        let len = size as u64;
        let place = self.locate(addr, len).ok_or(TrapKind::OutOfBounds {
            addr,
            len,
            write: false,
        })?;
        let mut pointer = false;
        if let Place::Stack { frame, off } = place {
            let f = &self.frames[frame];
            if !f.written.all(off, size) {
                return Err(TrapKind::UninitializedStackRead { addr, len });
            }
            pointer = f.pointer.any(off, size);
        }
        // SAFETY: `locate` just proved `[addr, addr + size)` lies inside the
        // context, a live frame, or a granted map value, all valid for reads
        // for the whole run (the `Env` contract covers map values).
        let v = unsafe { read_raw(addr, size) };
        Ok((v, pointer))
    }

    /// Check that `size` bytes at `addr` may be written with a value that
    /// does (`pointer`) or does not carry pointer bits; returns the place.
    pub(crate) fn check_store(
        &self,
        addr: u64,
        size: usize,
        pointer: bool,
    ) -> Result<Place, TrapKind> {
        let len = size as u64;
        match self.locate(addr, len) {
            None => Err(TrapKind::OutOfBounds {
                addr,
                len,
                write: true,
            }),
            Some(Place::Ctx) => Err(TrapKind::ContextWrite { addr }),
            Some(Place::Value) if pointer => Err(TrapKind::PointerLeak(LeakSink::MapValue)),
            Some(p) => Ok(p),
        }
    }

    /// A checked store.
    pub(crate) fn store(
        &mut self,
        addr: u64,
        size: usize,
        value: u64,
        pointer: bool,
    ) -> Result<(), TrapKind> {
        if !self.checked {
            // SAFETY: trusted mode, as in `load`.
            unsafe { write_raw(addr, size, value) };
            return Ok(());
        }
        let place = self.check_store(addr, size, pointer)?;
        self.note_write(place, size, pointer);
        // SAFETY: `check_store` proved the bytes lie in a live frame or a
        // granted map value, both valid for writes for the whole run.
        unsafe { write_raw(addr, size, value) };
        Ok(())
    }

    /// An atomic read-modify-write of `size` bytes at `addr`. `update` gets
    /// the old value and whether it carries pointer bits, and returns the
    /// value to store (with its pointer bit), or `None` to store nothing.
    /// Returns the old value and its pointer bit.
    ///
    /// The interpreter is single-threaded and holds the environment
    /// exclusively, so a plain read followed by a write is atomic here.
    pub(crate) fn rmw(
        &mut self,
        addr: u64,
        size: usize,
        update: impl FnOnce(u64, bool) -> Option<(u64, bool)>,
    ) -> Result<(u64, bool), TrapKind> {
        if !self.checked {
            // SAFETY: trusted mode, as in `load`.
            let old = unsafe { read_raw(addr, size) };
            if let Some((new, _)) = update(old, false) {
                // SAFETY: as above.
                unsafe { write_raw(addr, size, new) };
            }
            return Ok((old, false));
        }
        let place = self.check_store(addr, size, false)?;
        let (written, old_ptr) = self.stack_state(place, size);
        if !written {
            return Err(TrapKind::UninitializedStackRead {
                addr,
                len: size as u64,
            });
        }
        // SAFETY: `check_store` proved the bytes lie in a live frame or a
        // granted map value, valid for reads and writes for the whole run.
        let old = unsafe { read_raw(addr, size) };
        if let Some((new, new_ptr)) = update(old, old_ptr) {
            if new_ptr && place == Place::Value {
                return Err(TrapKind::PointerLeak(LeakSink::MapValue));
            }
            self.note_write(place, size, new_ptr);
            // SAFETY: as above.
            unsafe { write_raw(addr, size, new) };
        }
        Ok((old, old_ptr))
    }

    /// Which region a pointer value points into (one past the end counts),
    /// to tell a pointer difference within one object (a plain number) from
    /// one across objects (which still reveals addresses).
    pub(crate) fn region_of(&self, addr: u64) -> Option<(u8, u64)> {
        match self.locate(addr, 0)? {
            Place::Stack { frame, .. } => Some((0, frame as u64)),
            Place::Ctx => Some((1, 0)),
            Place::Value => {
                let (&base, _) = self.grants.range(..=addr).next_back()?;
                Some((2, base))
            }
        }
    }

    /// Record that `size` bytes at `place` now hold a (pointer) value.
    pub(crate) fn note_write(&mut self, place: Place, size: usize, pointer: bool) {
        if let Place::Stack { frame, off } = place {
            let f = &mut self.frames[frame];
            f.written.fill(off, size, true);
            f.pointer.fill(off, size, pointer);
        }
    }

    /// Whether the stack bytes at `place` are written and carry pointer bits.
    pub(crate) fn stack_state(&self, place: Place, size: usize) -> (bool, bool) {
        match place {
            Place::Stack { frame, off } => {
                let f = &self.frames[frame];
                (f.written.all(off, size), f.pointer.any(off, size))
            }
            Place::Ctx | Place::Value => (true, false),
        }
    }

    /// Check memory a helper reads: readable, written, pointer-free.
    /// `arg` is the register, for the leak report.
    pub(crate) fn check_helper_read(&self, arg: u8, addr: u64, len: u64) -> Result<(), TrapKind> {
        let bad = |why| TrapKind::BadHelperArg { arg, why };
        let place = self
            .locate(addr, len)
            .ok_or(bad(ArgProblem::OutOfBounds { addr, len }))?;
        // `locate` succeeded, so `len` fits in one frame when on the stack.
        let (written, pointer) = self.stack_state(place, len as usize);
        if !written {
            return Err(bad(ArgProblem::Uninitialized));
        }
        if pointer {
            return Err(TrapKind::PointerLeak(LeakSink::HelperMemory(arg)));
        }
        Ok(())
    }

    /// Check memory a helper writes: stack or a map value; returns the place
    /// so the bytes can be marked written after the call.
    pub(crate) fn check_helper_write(
        &self,
        arg: u8,
        addr: u64,
        len: u64,
    ) -> Result<Place, TrapKind> {
        let bad = |why| TrapKind::BadHelperArg { arg, why };
        match self.locate(addr, len) {
            None => Err(bad(ArgProblem::OutOfBounds { addr, len })),
            Some(Place::Ctx) => Err(bad(ArgProblem::NotWritable)),
            Some(p) => Ok(p),
        }
    }
}

/// Read `size` (1, 2, 4 or 8) bytes at `addr`, zero-extended.
///
/// # Safety
/// `[addr, addr + size)` must be valid for reads: checked by
/// [`Memory::locate`] in checked mode, proved by the verifier in trusted mode.
pub(crate) unsafe fn read_raw(addr: u64, size: usize) -> u64 {
    let p = core::ptr::with_exposed_provenance::<u8>(addr as usize);
    // SAFETY: the caller guarantees the bytes are readable; the reads are
    // unaligned because eBPF does not require alignment.
    unsafe {
        match size {
            1 => u64::from(p.read()),
            2 => u64::from(p.cast::<u16>().read_unaligned()),
            4 => u64::from(p.cast::<u32>().read_unaligned()),
            _ => p.cast::<u64>().read_unaligned(),
        }
    }
}

/// Write the low `size` (1, 2, 4 or 8) bytes of `value` at `addr`.
///
/// # Safety
/// `[addr, addr + size)` must be valid for writes and not aliased by a live
/// Rust reference: checked by [`Memory::check_store`] in checked mode,
/// proved by the verifier in trusted mode.
pub(crate) unsafe fn write_raw(addr: u64, size: usize, value: u64) {
    let p = core::ptr::with_exposed_provenance_mut::<u8>(addr as usize);
    // SAFETY: the caller guarantees the bytes are writable.
    unsafe {
        match size {
            1 => p.write(value as u8),
            2 => p.cast::<u16>().write_unaligned(value as u16),
            4 => p.cast::<u32>().write_unaligned(value as u32),
            _ => p.cast::<u64>().write_unaligned(value),
        }
    }
}
