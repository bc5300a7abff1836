//! Assembly as data: instruction encodings, accepted spellings, and golden
//! listings of probe-shaped programs, all under `tests/asm/`.
//!
//! Adding a case means adding a line or a file. Golden listings can be
//! rewritten with `CAPSCOPE_BLESS=1 cargo test -p capscope-bytecode --test
//! asm_golden` after a deliberate change; review the diff before committing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use capscope_bytecode::asm::{assemble, disassemble, disassemble_numbered};
use capscope_bytecode::insn::{Insn, Op, slots_from_bytes, slots_to_bytes};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/asm")
        .join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Non-blank lines that are not `;` comments, with their line numbers.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with(';'))
}

fn hex(slots: &[Insn]) -> String {
    let bytes = slots_to_bytes(slots);
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("`{b}`: {e}")))
        .collect()
}

#[test]
fn encodings_match_the_rfc() {
    let text = read(&data("encodings.txt"));
    let mut n = 0;
    for (line, entry) in entries(&text) {
        let (bytes, asm) = entry
            .split_once(" | ")
            .unwrap_or_else(|| panic!("encodings.txt:{line}: expected `HEX | TEXT`"));
        let want = slots_from_bytes(&unhex(bytes)).expect("whole slots");
        let got = assemble(asm).unwrap_or_else(|e| panic!("encodings.txt:{line}: {e}"));
        assert_eq!(
            hex(&got),
            bytes,
            "encodings.txt:{line}: `{asm}` assembles differently"
        );
        assert_eq!(
            disassemble(&want).expect("decodes").trim_end(),
            asm,
            "encodings.txt:{line}: {bytes} prints differently"
        );
        n += 1;
    }
    assert!(n >= 100, "only {n} encodings");
}

#[test]
fn alternative_spellings_assemble_to_the_canonical_instruction() {
    let text = read(&data("spellings.txt"));
    for (line, entry) in entries(&text) {
        let (input, canonical) = entry
            .split_once(" => ")
            .unwrap_or_else(|| panic!("spellings.txt:{line}: expected `INPUT => CANONICAL`"));
        let got = assemble(input).unwrap_or_else(|e| panic!("spellings.txt:{line}: {e}"));
        let want = assemble(canonical).unwrap_or_else(|e| panic!("spellings.txt:{line}: {e}"));
        assert_eq!(got, want, "spellings.txt:{line}");
        assert_eq!(
            disassemble(&got).expect("decodes").trim_end(),
            canonical,
            "spellings.txt:{line}: the canonical text is not what the disassembler prints"
        );
    }
}

/// `IDX: HEX | TEXT` for each instruction.
fn listing(slots: &[Insn]) -> String {
    let mut out = String::new();
    let mut pc = 0;
    while pc < slots.len() {
        let op = Op::decode(&slots[pc..]).expect("assembled code decodes");
        let n = op.slots();
        writeln!(out, "{pc}: {} | {op}", hex(&slots[pc..pc + n])).expect("String");
        pc += n;
    }
    out
}

#[test]
fn golden_programs() {
    let bless = std::env::var_os("CAPSCOPE_BLESS").is_some();
    let mut sources: Vec<_> = std::fs::read_dir(data("golden"))
        .expect("tests/asm/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 4, "golden programs are missing");
    for src in sources {
        let slots = assemble(&read(&src)).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let got = listing(&slots);
        let golden = src.with_extension("golden");
        if bless {
            std::fs::write(&golden, &got).expect("write golden");
        }
        assert_eq!(
            got,
            read(&golden),
            "{} does not match its listing",
            src.display()
        );
        // The listing's text column alone is the canonical program: it must
        // assemble to the same bytes, and agree with the numbered listing.
        let canonical: String = got
            .lines()
            .map(|l| format!("{}\n", l.split_once(" | ").expect("listing line").1))
            .collect();
        assert_eq!(assemble(&canonical).expect("canonical text"), slots);
        assert_eq!(disassemble(&slots).expect("decodes"), canonical);
        let numbered: String = got
            .lines()
            .map(|l| {
                let (idx, rest) = l.split_once(": ").expect("index");
                format!("{idx}: {}\n", rest.split_once(" | ").expect("text").1)
            })
            .collect();
        assert_eq!(disassemble_numbered(&slots).expect("decodes"), numbered);
    }
}
