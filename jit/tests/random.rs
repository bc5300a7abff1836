//! Random programs, differentially: the interpreter and the JIT must agree
//! on r0, every map and every ring-buffer record.

mod common;

use common::diff::differential;
use common::programs;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 384,
        // Programs whose random register contents make the interpreter trap
        // (for example a callee-saved value that became a pointer) are
        // rejected; too many rejections fails the test.
        max_global_rejects: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn alu_memory_and_jumps(ops in programs::program(40, false)) {
        let s = common::slots(&ops);
        let r = differential(&s, None, &[], &[0u8; 16]);
        prop_assume!(r.is_ok(), "interpreter trapped: {:?}", r.err());
    }

    #[test]
    fn with_maps_ring_buffers_and_helpers(ops in programs::program(30, true)) {
        let s = common::slots(&ops);
        let r = differential(&s, None, &programs::maps(), &[0u8; 16]);
        prop_assume!(r.is_ok(), "interpreter trapped: {:?}", r.err());
    }
}
