//! Robustness: on any input the verifier returns (never panics, never
//! overflows) within its budget. The cargo-fuzz target in `fuzz/` drives
//! the same entry points with coverage feedback.

use std::time::{Duration, Instant};

use capscope_bytecode::abi::AttachPoint;
use capscope_bytecode::insn::{Insn, InsnIdx};
use capscope_bytecode::object::{
    AttachSpec, LineEntry, MapDef, MapDisplay, MapKind, ProbeObject, ProgramDef, Span,
};
use capscope_verifier::{Code, Options, verify};
use proptest::prelude::*;

fn slot() -> impl Strategy<Value = Insn> {
    // Mostly valid opcodes, so the analysis (not only the decoder) runs.
    let codes = prop_oneof![
        3 => prop::sample::select(vec![
            0x07u8, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f,
            0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0x04, 0x0c, 0x14,
            0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xb4, 0xbc, 0xc4, 0xd4, 0xdc,
            0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x45, 0x55, 0x5d, 0x65, 0x6d, 0xa5, 0xad, 0xb5,
            0xc5, 0xd5, 0x16, 0x1e, 0x26, 0xa6, 0x85, 0x95, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81,
            0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x06,
        ]),
        1 => any::<u8>(),
    ];
    (
        codes,
        prop_oneof![4 => 0u8..11, 1 => any::<u8>()],
        prop_oneof![4 => 0u8..11, 1 => any::<u8>()],
        prop_oneof![3 => -16i16..16, 1 => prop::sample::select(vec![-512i16, -8, 8, 16, 24, 32]), 1 => any::<i16>()],
        prop_oneof![3 => -16i32..64, 1 => prop::sample::select(vec![0i32, 1, 2, 5, 8, 14, 16, 27, 112, 130, 0xe1, 0xf1]), 1 => any::<i32>()],
    )
        .prop_map(|(code, dst, src, off, imm)| Insn {
            code,
            dst: dst & 0x0f,
            src: src & 0x0f,
            off,
            imm,
        })
}

fn map_def() -> impl Strategy<Value = MapDef> {
    (
        prop::sample::select(MapKind::ALL.to_vec()),
        prop_oneof![Just(4u32), Just(8), 0u32..600],
        prop_oneof![Just(8u32), Just(16), 0u32..70000],
        1u32..100,
    )
        .prop_map(|(kind, key_size, value_size, max_entries)| MapDef {
            name: "m".into(),
            kind,
            key_size,
            value_size,
            max_entries,
            display: MapDisplay::default(),
        })
}

fn program() -> impl Strategy<Value = (ProgramDef, Vec<MapDef>)> {
    (
        prop::collection::vec(slot(), 0..120),
        prop::sample::select(AttachPoint::ALL.to_vec()),
        prop::collection::vec(map_def(), 0..4),
        prop::collection::vec((0u32..130, 0u32..100, 0u32..10), 0..5),
    )
        .prop_map(|(insns, point, maps, lines)| {
            let mut lines: Vec<LineEntry> = lines
                .into_iter()
                .map(|(i, s, l)| LineEntry {
                    insn: InsnIdx(i),
                    span: Span {
                        start: s,
                        end: s + l,
                    },
                })
                .collect();
            lines.sort_by_key(|e| e.insn);
            lines.dedup_by_key(|e| e.insn);
            (
                ProgramDef {
                    name: "p".into(),
                    attach: AttachSpec {
                        point,
                        period_ns: 0,
                    },
                    insns,
                    lines,
                },
                maps,
            )
        })
}

fn small_budget() -> Options {
    Options {
        log: true,
        max_steps: 20_000,
        max_path: 5_000,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any slots, any maps, any line table: a verdict, within the budget.
    #[test]
    fn any_program_gets_a_verdict_within_budget((p, maps) in program()) {
        let opts = small_budget();
        let t = Instant::now();
        match verify(&p, &maps, &opts) {
            Ok(v) => {
                prop_assert!(v.stats.insns_processed <= opts.max_steps);
                prop_assert_eq!(v.facts.insns.len(), p.insns.len());
            }
            Err(r) => {
                // every part of a rejection renders
                let _ = r.to_string();
                if r.code == Code::V082 {
                    prop_assert!(r.to_string().contains("gave up"));
                }
                if let Some(s) = r.span {
                    prop_assert_eq!(Some(s), p.span_of(r.insn));
                }
            }
        }
        prop_assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
    }

    /// Random bytes as a probe object: whatever decodes is verified.
    #[test]
    fn hostile_objects_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut b = b"CSPO\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        if let Ok(obj) = ProbeObject::from_bytes(&b) {
            for p in &obj.programs {
                let _ = verify(p, &obj.maps, &small_budget());
            }
        }
    }
}

/// Mutating the bytes of every accepted case never panics.
#[test]
fn mutated_cases_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let Some((_, code)) = text.split_once("\n---\n") else {
            continue;
        };
        let Ok(insns) = capscope_bytecode::asm::assemble(code) else {
            continue;
        };
        let maps: Vec<MapDef> = ["hash:8:8:64", "ringbuf:0:0:4096", "hash:8:64:64"]
            .iter()
            .map(|s| {
                let p: Vec<&str> = s.split(':').collect();
                MapDef {
                    name: "m".into(),
                    kind: MapKind::from_name(p[0]).unwrap(),
                    key_size: p[1].parse().unwrap(),
                    value_size: p[2].parse().unwrap(),
                    max_entries: p[3].parse().unwrap(),
                    display: MapDisplay::default(),
                }
            })
            .collect();
        let bytes = capscope_bytecode::insn::slots_to_bytes(&insns);
        for i in (0..bytes.len()).step_by(3) {
            for x in [0x01u8, 0x90] {
                let mut b = bytes.clone();
                b[i] ^= x;
                let slots = capscope_bytecode::insn::slots_from_bytes(&b).unwrap();
                let _ = capscope_verifier::verify_insns(
                    &slots,
                    AttachPoint::SyscallEnter,
                    &maps,
                    &small_budget(),
                );
                n += 1;
            }
        }
    }
    assert!(n > 1000, "{n}");
}
