//! Random programs, differentially: the interpreter and the JIT must agree
//! on r0, every map and every ring-buffer record.

mod common;

use capscope_bytecode::abi::AttachPoint;
use capscope_verifier::{Options, verify_insns};
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

    /// Programs the verifier accepts, compiled with its facts (which drop
    /// the branches it decided and the code it proved unreachable).
    #[test]
    fn verified_with_facts(ops in programs::program(30, true)) {
        let s = common::slots(&ops);
        let maps = programs::maps();
        let v = verify_insns(&s, AttachPoint::Begin, &maps, &Options::default());
        prop_assume!(v.is_ok(), "rejected: {:?}", v.err());
        let facts = v.unwrap().facts;
        let ctx = vec![0u8; AttachPoint::Begin.context_size()];
        if let Err(trap) = differential(&s, Some(&facts), &maps, &ctx) {
            panic!("the interpreter trapped on a verified program: {trap:?}");
        }
    }
}
