//! Hostile object bytes: every truncation, every single-byte mutation of a
//! valid object, and random bytes give an error or a valid load, never a
//! panic, and leave nothing behind.

mod common;

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::object::{Aggregation, DisplayField, FieldFormat, MapDisplay, MapKind};
use capscope_kernel_hooks::*;
use common::*;
use proptest::prelude::*;

fn valid() -> Vec<u8> {
    let mut o = obj(
        vec![
            map("@counts", MapKind::PerCpuHash, 8, 8, 64),
            map("@stacks", MapKind::StackTrace, 4, 64, 16),
            map("rb", MapKind::RingBuf, 0, 0, 4096),
            map("@a", MapKind::Array, 4, 16, 4),
        ],
        vec![
            prog("cap:alloc", AttachPoint::CapAlloc),
            interval("interval:s:1", 1_000_000_000),
            prog("END", AttachPoint::End),
        ],
    );
    o.maps[0].display = MapDisplay {
        key: vec![DisplayField {
            offset: 0,
            format: FieldFormat::Unsigned(8),
        }],
        value: vec![DisplayField {
            offset: 0,
            format: FieldFormat::Unsigned(8),
        }],
        aggregation: Aggregation::Count,
        print_at_end: true,
    };
    o.to_bytes()
}

/// Load, and if that worked, detach. Returns whether it loaded.
fn try_load(bytes: &[u8]) -> bool {
    match load(bytes, &mut engine(|_, _| nop)) {
        Ok(id) => {
            drop(detach(id).unwrap());
            true
        }
        Err(e) => {
            // Every error renders.
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

#[test]
fn truncations_and_mutations_are_errors_or_valid_loads() {
    let (_g, _) = setup();
    let before = memory_in_use();
    // Mutations can produce huge but valid maps; keep them cheap to refuse.
    set_memory_limit(before + (4 << 20));
    let bytes = valid();
    assert!(try_load(&bytes));
    for n in 0..bytes.len() {
        assert!(!try_load(&bytes[..n]), "prefix of {n} bytes loaded");
    }
    let mut loaded = 0;
    for i in 0..bytes.len() {
        for x in [0x01u8, 0x02, 0x10, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= x;
            loaded += try_load(&b) as u32;
        }
    }
    assert!(loaded > 0, "some mutations stay valid (names, sizes)");
    set_memory_limit(DEFAULT_MEMORY_LIMIT);
    assert_eq!(memory_in_use(), before);
    assert!(list().is_empty());
    assert!(!is_armed(AttachPoint::CapAlloc));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256), magic in any::<bool>()) {
        let (_g, _) = setup();
        let before = memory_in_use();
        set_memory_limit(before + (4 << 20));
        let mut b = if magic { b"CSPO\x01\x00".to_vec() } else { Vec::new() };
        b.extend(tail);
        try_load(&b);
        set_memory_limit(DEFAULT_MEMORY_LIMIT);
        prop_assert_eq!(memory_in_use(), before);
    }

    #[test]
    fn spliced_objects_never_panic(at in 0usize..400, junk in proptest::collection::vec(any::<u8>(), 1..16)) {
        let (_g, _) = setup();
        let mut b = valid();
        let at = at.min(b.len());
        b.splice(at..(at + junk.len()).min(b.len()), junk);
        set_memory_limit(memory_in_use() + (4 << 20));
        try_load(&b);
        set_memory_limit(DEFAULT_MEMORY_LIMIT);
    }
}
