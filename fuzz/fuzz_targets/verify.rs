//! libFuzzer target: the verifier never panics and stays within budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    capscope_verifier_fuzz::check(data);
});
