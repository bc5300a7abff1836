//! A rejection survives the control channel: the kernel serializes it, the
//! host deserializes it and renders exactly the same message.

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::asm::assemble;
use capscope_verifier::{Options, Rejection, verify_insns};

#[test]
fn rejections_round_trip_through_postcard() {
    for text in [
        "r0 = *(u64 *)(r10 - 8)\nexit\n",
        "r0 = r1\nexit\n",
        "r2 = r10\nr2 *= 2\nr0 = 0\nexit\n",
        "r0 = 0\ngoto -1\n",
    ] {
        let insns = assemble(text).unwrap();
        let r = verify_insns(&insns, AttachPoint::Begin, &[], &Options::default()).unwrap_err();
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: Rejection = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.to_string(), r.to_string());
    }
}
