//! The abstract stack: what each of the 512 bytes below r10 holds.
//!
//! The stack is a sorted list of non-overlapping [`Cell`]s; bytes outside
//! every cell are uninitialized. A cell is a *spill* (a register stored
//! with one instruction, so a fill of the same offset and size gives the
//! value back: pointers survive a spill), plain *data* (initialized,
//! pointer-free bytes whose value is unknown), or *pointer bits*
//! (initialized, but possibly part of a pointer: they may be read into a
//! register but never leave the program, rule 7). Overwriting part of a
//! spilled pointer turns the rest into pointer bits; overwriting part of a
//! spilled number keeps what is still known about the remaining bytes.

use alloc::vec::Vec;
use core::fmt;

use capscope_bytecode::insn::{AluOp, Width};

use crate::range::Scalar;
use crate::value::{IdPairs, Value};

/// What a cell holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// A register stored here; a scalar is kept zero-extended to the cell size.
    Spill(Value),
    /// Initialized, pointer-free bytes.
    Data,
    /// Initialized bytes that may belong to a pointer.
    PtrBits,
}

/// A run of stack bytes `[off, off + size)` relative to r10.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Offset of the first byte from r10 (negative).
    pub off: i32,
    /// Number of bytes (1 to 8 for spills).
    pub size: u32,
    /// What the bytes hold.
    pub kind: CellKind,
}

impl Cell {
    /// One past the last byte.
    pub fn end(&self) -> i32 {
        self.off + self.size as i32
    }

    fn may_hold_pointer(&self) -> bool {
        match &self.kind {
            CellKind::Spill(v) => !matches!(v, Value::Scalar(_)),
            CellKind::Data => false,
            CellKind::PtrBits => true,
        }
    }

    /// The part `[lo, hi)` of this cell (which must lie inside it).
    fn piece(&self, lo: i32, hi: i32) -> Cell {
        let size = (hi - lo) as u32;
        let kind = match &self.kind {
            CellKind::Spill(Value::Scalar(s)) => {
                if lo == self.off && matches!(size, 1 | 2 | 4) {
                    CellKind::Spill(Value::Scalar(s.truncate(size)))
                } else if let Some(c) = s.as_const() {
                    CellKind::Spill(Value::Scalar(Scalar::constant(extract(
                        c,
                        (lo - self.off) as u32,
                        size,
                    ))))
                } else {
                    CellKind::Data
                }
            }
            CellKind::Spill(_) | CellKind::PtrBits => CellKind::PtrBits,
            CellKind::Data => CellKind::Data,
        };
        Cell {
            off: lo,
            size,
            kind,
        }
    }
}

/// Bytes `[shift, shift + size)` of `c`, as a little-endian number.
fn extract(c: u64, shift: u32, size: u32) -> u64 {
    let v = c.checked_shr(shift * 8).unwrap_or(0);
    if size >= 8 {
        v
    } else {
        v & ((1u64 << (size * 8)) - 1)
    }
}

/// The stack of one abstract state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stack {
    cells: Vec<Cell>,
}

/// What a range of stack bytes holds, for checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bytes {
    /// All initialized and pointer-free.
    Data,
    /// All initialized, some may belong to a pointer.
    PtrBits,
    /// The byte at this offset may be uninitialized.
    Uninit(i32),
}

impl Stack {
    /// The cells, in offset order.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// Mutable access to every spilled value (for null-check refinement).
    pub(crate) fn spilled_values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.cells.iter_mut().filter_map(|c| match &mut c.kind {
            CellKind::Spill(v) => Some(v),
            _ => None,
        })
    }

    /// Every spilled value.
    pub(crate) fn spilled_values(&self) -> impl Iterator<Item = &Value> {
        self.cells.iter().filter_map(|c| match &c.kind {
            CellKind::Spill(v) => Some(v),
            _ => None,
        })
    }

    /// Make `pos` a cell boundary.
    fn split_at(&mut self, pos: i32) {
        let i = self.cells.partition_point(|c| c.end() <= pos);
        if let Some(c) = self.cells.get(i)
            && c.off < pos
            && pos < c.end()
        {
            let (a, b) = (c.piece(c.off, pos), c.piece(pos, c.end()));
            self.cells[i] = a;
            self.cells.insert(i + 1, b);
        }
    }

    /// Index range of the cells inside `[lo, hi)`, after splitting there.
    fn isolate(&mut self, lo: i32, hi: i32) -> core::ops::Range<usize> {
        self.split_at(lo);
        self.split_at(hi);
        let a = self.cells.partition_point(|c| c.end() <= lo);
        let b = self.cells.partition_point(|c| c.off < hi);
        a..b
    }

    /// Overwrite `[off, off + size)` with `kind` (a store at a known offset).
    pub fn write(&mut self, off: i32, size: u32, kind: CellKind) {
        let r = self.isolate(off, off + size as i32);
        self.cells.splice(r, [Cell { off, size, kind }]);
        self.normalize();
    }

    /// A store somewhere in `[lo, hi)`: bytes stay uninitialized if they
    /// were, and become data or, if a pointer may be involved, pointer bits.
    pub fn weaken(&mut self, lo: i32, hi: i32, pointer: bool) {
        let r = self.isolate(lo, hi);
        for c in &mut self.cells[r] {
            c.kind = if pointer || c.may_hold_pointer() {
                CellKind::PtrBits
            } else {
                CellKind::Data
            };
        }
        self.normalize();
    }

    /// What `[lo, hi)` holds.
    pub fn bytes(&self, lo: i32, hi: i32) -> Bytes {
        let mut at = lo;
        let mut ptr = false;
        let start = self.cells.partition_point(|c| c.end() <= lo);
        for c in &self.cells[start..] {
            if at >= hi {
                break;
            }
            if c.off > at {
                return Bytes::Uninit(at);
            }
            ptr |= c.may_hold_pointer();
            at = c.end();
        }
        if at < hi {
            Bytes::Uninit(at)
        } else if ptr {
            Bytes::PtrBits
        } else {
            Bytes::Data
        }
    }

    /// Read `size` bytes at `off` (a fill at a known offset): the spilled
    /// value if a spill of exactly this place and size is there, what is
    /// known about the bytes otherwise. `Err` names an uninitialized byte.
    pub fn read(&self, off: i32, size: u32) -> Result<Value, i32> {
        let hi = off + size as i32;
        let kind = self.bytes(off, hi);
        if let Bytes::Uninit(at) = kind {
            return Err(at);
        }
        let i = self.cells.partition_point(|c| c.end() <= off);
        let first = &self.cells[i];
        if first.off <= off && hi <= first.end() {
            match &first.kind {
                CellKind::Spill(v) if first.off == off && first.size == size => {
                    return Ok(v.clone());
                }
                CellKind::Spill(Value::Scalar(s)) => {
                    let shift = Scalar::constant(u64::from((off - first.off) as u32 * 8));
                    let v = crate::arith::alu(Width::W64, AluOp::Rsh, s, &shift);
                    return Ok(Value::Scalar(v.truncate(size)));
                }
                _ => {}
            }
        }
        if kind == Bytes::PtrBits {
            return Ok(Value::PtrBits);
        }
        // Several pointer-free cells: a number if all are known, else any.
        let mut c = 0u64;
        for cell in &self.cells[i..] {
            if cell.off >= hi {
                break;
            }
            let CellKind::Spill(Value::Scalar(s)) = &cell.kind else {
                return Ok(Value::Scalar(Scalar::unknown_bytes(size)));
            };
            let Some(k) = s.as_const() else {
                return Ok(Value::Scalar(Scalar::unknown_bytes(size)));
            };
            for b in off.max(cell.off)..hi.min(cell.end()) {
                let byte = extract(k, (b - cell.off) as u32, 1);
                c |= byte << ((b - off) * 8);
            }
        }
        Ok(Value::Scalar(Scalar::constant(c)))
    }

    /// Merge adjacent data and adjacent pointer-bit runs, so equal contents
    /// have one representation.
    fn normalize(&mut self) {
        let mut out: Vec<Cell> = Vec::with_capacity(self.cells.len());
        for c in self.cells.drain(..) {
            if let Some(last) = out.last_mut()
                && last.end() == c.off
                && matches!(
                    (&last.kind, &c.kind),
                    (CellKind::Data, CellKind::Data) | (CellKind::PtrBits, CellKind::PtrBits)
                )
            {
                last.size += c.size;
                continue;
            }
            out.push(c);
        }
        self.cells = out;
    }

    /// The stack that holds what either holds: a byte is initialized only
    /// if it is in both.
    pub(crate) fn join(&self, b: &Stack, ids: &mut IdPairs) -> Stack {
        let (a, b) = (&self.cells, &b.cells);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (ca, cb) = (&a[i], &b[j]);
            if ca.off == cb.off && ca.size == cb.size {
                let kind = match (&ca.kind, &cb.kind) {
                    (CellKind::Spill(x), CellKind::Spill(y)) => match x.join(y, ids) {
                        Value::PtrBits => CellKind::PtrBits,
                        v => CellKind::Spill(v),
                    },
                    _ if ca.may_hold_pointer() || cb.may_hold_pointer() => CellKind::PtrBits,
                    _ => CellKind::Data,
                };
                out.push(Cell {
                    off: ca.off,
                    size: ca.size,
                    kind,
                });
                i += 1;
                j += 1;
                continue;
            }
            if ca.end() <= cb.off {
                i += 1;
                continue;
            }
            if cb.end() <= ca.off {
                j += 1;
                continue;
            }
            // Overlapping cells with different bounds: join byte by byte.
            let start = ca.off.min(cb.off);
            let mut end = ca.end().max(cb.end());
            let (i0, j0) = (i, j);
            i += 1;
            j += 1;
            loop {
                let mut grew = false;
                while i < a.len() && a[i].off < end {
                    end = end.max(a[i].end());
                    i += 1;
                    grew = true;
                }
                while j < b.len() && b[j].off < end {
                    end = end.max(b[j].end());
                    j += 1;
                    grew = true;
                }
                if !grew {
                    break;
                }
            }
            let n = (end - start) as usize;
            let mut class = [0u8; 512];
            let mark = |class: &mut [u8; 512], cells: &[Cell]| {
                for c in cells {
                    let v = if c.may_hold_pointer() { 2 } else { 1 };
                    for k in c.off..c.end() {
                        let slot = &mut class[(k - start) as usize];
                        *slot = (*slot).max(v);
                    }
                }
            };
            let mut ca_class = [0u8; 512];
            mark(&mut ca_class, &a[i0..i]);
            mark(&mut class, &b[j0..j]);
            for k in 0..n.min(512) {
                class[k] = if ca_class[k] == 0 || class[k] == 0 {
                    0
                } else {
                    ca_class[k].max(class[k])
                };
            }
            let mut k = 0;
            while k < n.min(512) {
                let v = class[k];
                let mut e = k;
                while e < n.min(512) && class[e] == v {
                    e += 1;
                }
                if v != 0 {
                    out.push(Cell {
                        off: start + k as i32,
                        size: (e - k) as u32,
                        kind: if v == 2 {
                            CellKind::PtrBits
                        } else {
                            CellKind::Data
                        },
                    });
                }
                k = e;
            }
        }
        let mut s = Stack { cells: out };
        s.normalize();
        s
    }

    /// True if every byte of `b` holds at least what the same byte of `self`
    /// does (sound, not complete).
    pub fn is_subset_of(&self, b: &Stack) -> bool {
        b.cells.iter().all(|cb| match &cb.kind {
            CellKind::Spill(v) => {
                let i = self.cells.partition_point(|c| c.off < cb.off);
                matches!(self.cells.get(i), Some(ca) if ca.off == cb.off && ca.size == cb.size
                    && matches!(&ca.kind, CellKind::Spill(w) if w.is_subset_of(v)))
            }
            CellKind::Data => self.bytes(cb.off, cb.end()) == Bytes::Data,
            CellKind::PtrBits => !matches!(self.bytes(cb.off, cb.end()), Bytes::Uninit(_)),
        })
    }

    /// Equal up to irrelevant details.
    pub fn same(&self, b: &Stack) -> bool {
        self.cells.len() == b.cells.len()
            && self.cells.iter().zip(&b.cells).all(|(x, y)| {
                x.off == y.off
                    && x.size == y.size
                    && match (&x.kind, &y.kind) {
                        (CellKind::Spill(v), CellKind::Spill(w)) => v.same(w),
                        (k, l) => k == l,
                    }
            })
    }

    pub(crate) fn shape_eq(&self, b: &Stack) -> bool {
        self.cells.len() == b.cells.len()
            && self.cells.iter().zip(&b.cells).all(|(x, y)| {
                x.off == y.off
                    && x.size == y.size
                    && match (&x.kind, &y.kind) {
                        (CellKind::Spill(v), CellKind::Spill(w)) => v.shape() == w.shape(),
                        (k, l) => k == l,
                    }
            })
    }
}

impl fmt::Display for Stack {
    /// `fp-8=map_value(off=0,size=8) fp-24..fp-9=data`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, c) in self.cells.iter().enumerate() {
            if n > 0 {
                f.write_str(" ")?;
            }
            match &c.kind {
                CellKind::Spill(v) if c.size == 8 => write!(f, "fp{}={v}", c.off)?,
                CellKind::Spill(v) => write!(f, "fp{}/{}={v}", c.off, c.size)?,
                CellKind::Data => write!(f, "fp{}..fp{}=data", c.off, c.end() - 1)?,
                CellKind::PtrBits => write!(f, "fp{}..fp{}=ptr_bits", c.off, c.end() - 1)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spill(v: Value) -> CellKind {
        CellKind::Spill(v)
    }

    #[test]
    fn pointer_spills_come_back_only_whole() {
        let mut s = Stack::default();
        s.write(-8, 8, spill(Value::Ctx { off: 0 }));
        assert_eq!(s.read(-8, 8), Ok(Value::Ctx { off: 0 }));
        assert_eq!(s.read(-8, 4), Ok(Value::PtrBits));
        assert_eq!(s.read(-16, 8), Err(-16));
        // overwriting half of the pointer leaves pointer bits
        s.write(-8, 4, spill(Value::Scalar(Scalar::constant(0))));
        assert_eq!(s.read(-8, 8), Ok(Value::PtrBits));
        assert_eq!(s.read(-8, 4), Ok(Value::Scalar(Scalar::constant(0))));
        assert_eq!(s.bytes(-4, 0), Bytes::PtrBits);
    }

    #[test]
    fn scalar_spills_keep_their_bytes() {
        let mut s = Stack::default();
        s.write(
            -8,
            8,
            spill(Value::Scalar(Scalar::constant(0x1122_3344_5566_7788))),
        );
        assert_eq!(
            s.read(-8, 4),
            Ok(Value::Scalar(Scalar::constant(0x5566_7788)))
        );
        assert_eq!(s.read(-4, 2), Ok(Value::Scalar(Scalar::constant(0x3344))));
        s.write(-6, 1, spill(Value::Scalar(Scalar::constant(0xaa))));
        assert_eq!(
            s.read(-8, 8),
            Ok(Value::Scalar(Scalar::constant(0x1122_3344_55aa_7788)))
        );
        let mut u = Stack::default();
        u.write(-8, 8, spill(Value::Scalar(Scalar::urange(0, 100))));
        let Ok(Value::Scalar(v)) = u.read(-8, 4) else {
            panic!()
        };
        assert_eq!((v.umin, v.umax), (0, 100));
    }

    #[test]
    fn join_keeps_only_bytes_initialized_in_both() {
        let mut ids = IdPairs::default();
        let mut a = Stack::default();
        a.write(-16, 16, CellKind::Data);
        let mut b = Stack::default();
        b.write(-8, 8, spill(Value::fp()));
        let j = a.join(&b, &mut ids);
        assert_eq!(j.bytes(-16, -8), Bytes::Uninit(-16));
        assert_eq!(j.bytes(-8, 0), Bytes::PtrBits);
        assert!(a.is_subset_of(&Stack::default()));
        assert!(!Stack::default().is_subset_of(&a));
        let mut c = Stack::default();
        c.write(-8, 8, spill(Value::Scalar(Scalar::constant(1))));
        let mut d = Stack::default();
        d.write(-8, 8, spill(Value::Scalar(Scalar::constant(2))));
        let j = c.join(&d, &mut ids);
        let Ok(Value::Scalar(v)) = j.read(-8, 8) else {
            panic!()
        };
        assert_eq!((v.umin, v.umax), (1, 2));
        assert!(c.is_subset_of(&j) && d.is_subset_of(&j));
    }

    #[test]
    fn weak_writes_never_initialize() {
        let mut s = Stack::default();
        s.write(-8, 8, spill(Value::Scalar(Scalar::constant(7))));
        s.weaken(-16, 0, false);
        assert_eq!(s.bytes(-16, -8), Bytes::Uninit(-16));
        assert_eq!(s.bytes(-8, 0), Bytes::Data);
        s.weaken(-8, -4, true);
        assert_eq!(s.bytes(-8, 0), Bytes::PtrBits);
    }
}
