//! Assembler errors as data: each file in `tests/asm/errors/` is one case.
//!
//! A case starts with two comment lines:
//!
//! ```text
//! ; expect: LINE:COLUMN KIND-CODE
//! ; message: the Display of the error kind
//! ```
//!
//! and the rest is the program. The expectations count those two lines.

use std::path::Path;

use capscope_bytecode::asm::{AsmErrorKind, assemble, assemble_all_errors};

#[test]
fn error_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asm/errors");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/asm/errors")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "error cases are missing");
    let mut codes = std::collections::BTreeSet::new();
    for path in cases {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable case");
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no `{key}` line"))
                .trim()
                .to_string()
        };
        let expect = header("; expect:");
        let message = header("; message:");
        let (pos, code) = expect
            .split_once(' ')
            .unwrap_or_else(|| panic!("{name}: expected `; expect: LINE:COL CODE`"));
        let (line, column) = pos.split_once(':').expect("LINE:COL");
        let err = match assemble(&text) {
            Ok(slots) => panic!("{name}: assembled to {slots:?}, expected an error"),
            Err(e) => e,
        };
        let got = format!("{}:{} {}", err.line, err.column, err.kind.code());
        assert_eq!(got, format!("{line}:{column} {code}"), "{name}: {err}");
        assert_eq!(err.kind.to_string(), message, "{name}");
        // The byte span lies within the text and starts where the column says.
        let line_start: usize = text
            .split_inclusive('\n')
            .take(err.line as usize - 1)
            .map(str::len)
            .sum();
        let col_bytes: usize = text[line_start..]
            .chars()
            .take(err.column as usize - 1)
            .map(char::len_utf8)
            .sum();
        assert_eq!(err.offset, line_start + col_bytes, "{name}: offset");
        assert!(err.offset + err.len <= text.len(), "{name}: span");
        codes.insert(err.kind.code());
    }
    // Every kind but the one that needs a 32k-slot program is covered by a
    // file; that one is generated below.
    assert_eq!(codes.len(), 14, "{codes:?}");
}

#[test]
fn a_label_beyond_the_short_range_needs_gotol() {
    // 16384 lddw lines = 32768 slots between the jump and the label.
    let mut text = String::from("goto far\n");
    text.push_str(&"r1 = 0 ll\n".repeat(16384));
    text.push_str("far:\nexit\n");
    let err = assemble(&text).expect_err("out of the 16-bit range");
    assert_eq!((err.line, err.column), (1, 6));
    assert_eq!(
        err.kind,
        AsmErrorKind::JumpOutOfRange {
            label: "far".into(),
            offset: 32768,
            min: -32768,
            max: 32767
        }
    );
    assert!(err.to_string().contains("`gotol` reaches further"), "{err}");
    let slots = assemble(&text.replacen("goto far", "gotol far", 1)).expect("gotol reaches");
    assert_eq!(slots[0].imm, 32768);
    // One slot less is in range for goto and for a conditional jump.
    let near = text.replacen("r1 = 0 ll\n", "r1 = 0\n", 1);
    assert_eq!(assemble(&near).expect("in range")[0].off, 32767);
    let back = format!(
        "far:\n{}r1 = 0\nif r1 == 0 goto far\n",
        "r1 = 0 ll\n".repeat(16383)
    );
    assert_eq!(
        assemble(&back).expect("-32768 is in range")[32767].off,
        i16::MIN
    );
}

#[test]
fn every_line_reports_its_own_error() {
    let text = "r1 = 1\nr11 = 2\nexit now\ngoto nowhere\nr1 = map[0] ll\n";
    let errors = assemble_all_errors(text).expect_err("three errors");
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.kind.code()))
        .collect();
    assert_eq!(
        got,
        [
            (2, 1, "bad-register"),
            (3, 6, "unexpected"),
            (4, 6, "unknown-label")
        ]
    );
    assert_eq!(assemble(text).expect_err("first error"), errors[0]);
}

#[test]
fn labels_resolve_forwards_backwards_and_across_lddw() {
    let text = "\
start:
    r1 = 0x100000000 ll  ; two slots
    if r1 > 5 goto end
    call sub
    goto start
sub:    r0 = 1
    exit
end:
";
    let slots = assemble(text).expect("assembles");
    // start=0, lddw 0-1, if at 2, call at 3, goto at 4, sub=5, exit 6, end=7.
    assert_eq!(slots[2].off, 7 - 3);
    assert_eq!((slots[3].src, slots[3].imm), (1, 5 - 4));
    assert_eq!(slots[4].off, -5);
    assert_eq!(slots.len(), 7);
}

#[test]
fn empty_and_comment_only_text_is_an_empty_program() {
    for text in ["", "\n\n", "; nothing\n// here\n   \t\n", "only_a_label:\n"] {
        assert_eq!(assemble(text), Ok(vec![]), "{text:?}");
    }
    // CRLF line endings are fine.
    assert_eq!(assemble("r0 = 0\r\nexit\r\n").expect("crlf").len(), 2);
}
