//! The check both the libFuzzer target and the replay tool run: decode an
//! input into a program (attach point, maps, slots) and verify it under a
//! small budget. The verifier must return, never panic (overflow checks are
//! on in this profile), and stay within its budget.

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::slots_from_bytes;
use capscope_bytecode::object::{MapDef, MapDisplay, MapKind, ProbeObject};
use capscope_verifier::{Options, verify, verify_insns};

/// Verify whatever `data` describes.
///
/// Layout: byte 0 picks the attach point, byte 1 the number of maps (0-3),
/// then 4 bytes per map (kind, key size, value size / 8, entries), then
/// instruction slots (a trailing partial slot is dropped). Inputs that
/// start with the probe-object magic are decoded as objects instead.
pub fn check(data: &[u8]) {
    let opts = Options {
        log: data.first().is_some_and(|b| b & 0x80 != 0),
        max_steps: 50_000,
        max_path: 20_000,
    };
    if data.starts_with(b"CSPO") {
        if let Ok(obj) = ProbeObject::from_bytes(data) {
            for p in &obj.programs {
                budget_ok(verify(p, &obj.maps, &opts), &opts);
            }
        }
        return;
    }
    let Some((&point, rest)) = data.split_first() else {
        return;
    };
    let point = AttachPoint::ALL[point as usize % AttachPoint::COUNT];
    let Some((&nmaps, mut rest)) = rest.split_first() else {
        return;
    };
    let mut maps = Vec::new();
    for _ in 0..nmaps % 4 {
        let Some((m, r)) = rest.split_first_chunk::<4>() else {
            return;
        };
        rest = r;
        maps.push(MapDef {
            name: String::new(),
            kind: MapKind::ALL[m[0] as usize % MapKind::ALL.len()],
            key_size: u32::from(m[1]),
            value_size: u32::from(m[2]) * 8,
            max_entries: u32::from(m[3]) + 1,
            display: MapDisplay::default(),
        });
    }
    let whole = rest.len() / 8 * 8;
    let Ok(slots) = slots_from_bytes(&rest[..whole]) else {
        return;
    };
    budget_ok(verify_insns(&slots, point, &maps, &opts), &opts);
}

fn budget_ok<T>(r: Result<capscope_verifier::Verified, T>, opts: &Options) {
    if let Ok(v) = r {
        assert!(v.stats.insns_processed <= opts.max_steps, "over budget");
    }
}
