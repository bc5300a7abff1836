//! Exception tables: "if the instruction at `insn` faults, continue at
//! `fixup`".
//!
//! Linux's mechanism for user copies, used twice here: the kernel guards
//! every instruction that touches user memory, and the user runtime guards
//! its probing reads. Entries are emitted next to the guarded instruction
//! (`.pushsection __ex_table`), collected by the linker in link order,
//! sorted once at start-up and then binary-searched on every fault, so a
//! lookup costs O(log n).

/// One entry, as emitted by `.quad insn, fixup`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExEntry {
    /// Address of the instruction that may fault.
    pub insn: u64,
    /// Where to continue when it does.
    pub fixup: u64,
}

/// Sort a table by instruction address (done once, before any lookup).
pub fn sort(table: &mut [ExEntry]) {
    table.sort_unstable_by_key(|e| e.insn);
}

/// True if the table is sorted and has no duplicate instruction.
pub fn is_sorted(table: &[ExEntry]) -> bool {
    table.windows(2).all(|w| w[0].insn < w[1].insn)
}

/// The fixup for a fault at `rip`, or `None` if `rip` is not guarded.
pub fn search(table: &[ExEntry], rip: u64) -> Option<u64> {
    table
        .binary_search_by_key(&rip, |e| e.insn)
        .ok()
        .map(|i| table[i].fixup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn sort_then_search_finds_exact_matches_only() {
        let mut t: Vec<ExEntry> = [(0x50, 1), (0x10, 2), (0x30, 3), (0x20, 4)]
            .into_iter()
            .map(|(insn, fixup)| ExEntry { insn, fixup })
            .collect();
        assert!(!is_sorted(&t));
        sort(&mut t);
        assert!(is_sorted(&t));
        assert_eq!(search(&t, 0x30), Some(3));
        assert_eq!(search(&t, 0x10), Some(2));
        assert_eq!(search(&t, 0x50), Some(1));
        for miss in [0, 0x11, 0x2f, 0x51, u64::MAX] {
            assert_eq!(search(&t, miss), None);
        }
        assert_eq!(search(&[], 0x10), None);
    }

    #[test]
    fn large_table_agrees_with_linear_search() {
        let mut t: Vec<ExEntry> = (0..1000u64)
            .map(|i| ExEntry {
                insn: (i * 7919) % 10007 * 16,
                fixup: i,
            })
            .collect();
        sort(&mut t);
        for rip in (0..10007 * 16).step_by(5) {
            let linear = t.iter().find(|e| e.insn == rip).map(|e| e.fixup);
            assert_eq!(search(&t, rip), linear);
        }
    }
}
