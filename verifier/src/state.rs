//! One abstract machine state: eleven registers, the stack, and how many
//! instructions the longest path it stands for has executed so far.

use core::fmt;

use capscope_bytecode::insn::Reg;

use crate::stack::Stack;
use crate::value::{IdPairs, Value};

/// The abstract state at one program point.
#[derive(Clone, Debug)]
pub struct State {
    /// r0 to r10.
    pub regs: [Value; Reg::COUNT],
    /// The 512 bytes below r10.
    pub stack: Stack,
    /// An upper bound on the instructions any path this state stands for
    /// has executed (rule 9 bounds it).
    pub path_len: u64,
}

impl State {
    /// The state on entry: r1 is the context, r10 the frame pointer, the
    /// rest and the whole stack unwritten.
    pub fn entry() -> State {
        let mut regs: [Value; Reg::COUNT] = core::array::from_fn(|_| Value::Uninit(None));
        regs[1] = Value::Ctx { off: 0 };
        regs[10] = Value::fp();
        State {
            regs,
            stack: Stack::default(),
            path_len: 0,
        }
    }

    /// A register's value.
    pub fn reg(&self, r: Reg) -> &Value {
        &self.regs[r.index()]
    }

    /// Set a register.
    pub fn set(&mut self, r: Reg, v: Value) {
        self.regs[r.index()] = v;
    }

    /// An id no value in this state uses.
    pub fn fresh_id(&self) -> u32 {
        self.values().filter_map(Value::id).max().unwrap_or(0) + 1
    }

    /// Every register and spilled value.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.regs.iter().chain(self.stack.spilled_values())
    }

    /// Apply `f` to every register and spilled value.
    pub fn for_each_value_mut(&mut self, mut f: impl FnMut(&mut Value)) {
        for v in &mut self.regs {
            f(v);
        }
        for v in self.stack.spilled_values_mut() {
            f(v);
        }
    }

    /// Renumber ids in order of first appearance, so equal states compare
    /// equal whatever ids their lookups drew.
    pub fn canonicalize(&mut self) {
        let mut seen: alloc::vec::Vec<u32> = alloc::vec::Vec::new();
        self.for_each_value_mut(|v| {
            if let Some(id) = v.id() {
                let n = match seen.iter().position(|&s| s == id) {
                    Some(n) => n,
                    None => {
                        seen.push(id);
                        seen.len() - 1
                    }
                };
                v.set_id(n as u32 + 1);
            }
        });
    }

    /// A state that stands for every path either stands for.
    pub fn join(&self, b: &State) -> State {
        let mut ids = IdPairs::default();
        let regs = core::array::from_fn(|i| self.regs[i].join(&b.regs[i], &mut ids));
        let stack = self.stack.join(&b.stack, &mut ids);
        let mut s = State {
            regs,
            stack,
            path_len: self.path_len.max(b.path_len),
        };
        s.canonicalize();
        s
    }

    /// True if every concrete state of `self` is one of `b` (path lengths
    /// aside). Both must be canonical.
    pub fn is_subset_of(&self, b: &State) -> bool {
        self.regs
            .iter()
            .zip(&b.regs)
            .all(|(x, y)| x.is_subset_of(y))
            && self.stack.is_subset_of(&b.stack)
    }

    /// Equal, path lengths aside. Both must be canonical.
    pub fn same(&self, b: &State) -> bool {
        self.regs.iter().zip(&b.regs).all(|(x, y)| x.same(y)) && self.stack.same(&b.stack)
    }

    /// Same types in every register and stack cell (ranges may differ):
    /// such states lose little when joined.
    pub fn shape_eq(&self, b: &State) -> bool {
        self.regs
            .iter()
            .zip(&b.regs)
            .all(|(x, y)| x.shape() == y.shape())
            && self.stack.shape_eq(&b.stack)
    }
}

impl fmt::Display for State {
    /// `R1=ctx R10=fp fp-8=scalar`: initialized registers, then the stack.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (i, v) in self.regs.iter().enumerate() {
            if v.is_init() {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                write!(f, "R{i}={v}")?;
            }
        }
        if !self.stack.cells().is_empty() {
            write!(f, " {}", self.stack)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::Scalar;
    use alloc::string::ToString;
    use capscope_bytecode::insn::MapIdx;

    #[test]
    fn entry_state_prints_like_linux() {
        assert_eq!(State::entry().to_string(), "R1=ctx R10=fp");
    }

    #[test]
    fn copies_of_a_lookup_stay_linked_through_a_join() {
        let lookup = |id| Value::MapValueOrNull {
            map: MapIdx(0),
            id,
            size: 8,
        };
        let mut a = State::entry();
        a.set(Reg::R6, lookup(7));
        a.set(Reg::R7, lookup(7));
        let mut b = State::entry();
        b.set(Reg::R6, Value::Scalar(Scalar::constant(0)));
        b.set(Reg::R7, Value::Scalar(Scalar::constant(0)));
        let j = a.join(&b);
        assert_eq!(j.reg(Reg::R6).id(), Some(1));
        assert_eq!(j.reg(Reg::R7).id(), Some(1));
        // but not when one copy was null on one path and the other was not
        let mut c = State::entry();
        c.set(Reg::R6, lookup(3));
        c.set(Reg::R7, Value::Scalar(Scalar::constant(0)));
        let j = a.join(&c);
        assert_ne!(j.reg(Reg::R6).id(), j.reg(Reg::R7).id());
        assert!(a.is_subset_of(&a.join(&b)) || !a.same(&b));
    }
}
