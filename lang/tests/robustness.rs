//! No input makes the compiler panic, and whatever it accepts, the
//! verifier accepts.
//!
//! Three generators: random token streams from the language's vocabulary,
//! mutations of the valid scripts in `probes/` and `tests/cases/valid/`, and
//! arbitrary text. Every compiled object must pass the verifier and
//! `ProbeObject::validate`; every rejection must render.

mod common;

use proptest::prelude::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const VOCAB: &[&str] = &[
    "cap:alloc",
    "cap:free",
    "cap:*",
    "syscall:enter",
    "syscall:exit:map",
    "irq:entry:32",
    "fault:page",
    "cap:map",
    "cap:invoke",
    "BEGIN",
    "END",
    "interval:s:1",
    "interval:ms:",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    "?",
    ".",
    "..",
    "=",
    "+=",
    "<<=",
    "++",
    "--",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "~",
    "!",
    "<<",
    ">>",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "if",
    "else",
    "for",
    "true",
    "false",
    "u8",
    "i32",
    "u64",
    "@",
    "@x",
    "@live",
    "$x",
    "$i",
    "args",
    "args.slot",
    "args.nr",
    "args.arg0",
    "args.label",
    "args.overmap",
    "task",
    "tid",
    "cpu",
    "nsecs",
    "comm",
    "probe",
    "ustack",
    "kstack",
    "retval",
    "count()",
    "sum",
    "min",
    "max",
    "avg",
    "stats",
    "hist",
    "lhist",
    "delete",
    "clear",
    "zero",
    "print",
    "printf",
    "exit()",
    "0",
    "1",
    "42",
    "0xff",
    "1_000",
    "18446744073709551615",
    "\"s\"",
    "\"%d %s\\n\"",
    "\"unterminated",
    "/*",
    "*/",
    "// c\n",
    "SYS_MAP",
    "KIND_GATE",
    "FREE_TEARDOWN",
    "#",
    "\u{e9}",
    "0..4",
    "\n",
];

/// Compile; on success, everything produced must verify and validate; on
/// failure, the diagnostics must render and include an error.
fn check_total(src: &str) -> Result<(), TestCaseError> {
    match capscope_lang::compile(src) {
        Ok(c) => {
            prop_assert!(c.object.validate().is_ok(), "invalid object for {src:?}");
            if let Err(e) = common::verify_all(&c.object) {
                return Err(TestCaseError::fail(format!(
                    "verifier rejects compiled code: {e}\n{src}"
                )));
            }
            // And it runs without a trap in the memory-checked interpreter.
            let mut env =
                capscope_bytecode::model::ModelEnv::new(&c.object.maps, Default::default());
            for p in &c.object.programs {
                let ctx = vec![0x5a; p.attach.point.context_size()];
                let cfg = capscope_bytecode::interp::Config::default();
                if let Err(t) = capscope_bytecode::interp::run(&p.insns, &ctx, &mut env, &cfg) {
                    return Err(TestCaseError::fail(format!(
                        "{} trapped: {t:?}\n{src}",
                        p.name
                    )));
                }
            }
            let _ = capscope_lang::render(&c.warnings, "fuzz", src);
        }
        Err(e) => {
            prop_assert!(e.errors().next().is_some());
            let out = e.render("fuzz", src);
            prop_assert!(out.contains("error["));
        }
    }
    Ok(())
}

fn seeds() -> Vec<String> {
    let mut v = Vec::new();
    for dir in [
        format!("{ROOT}/../probes"),
        format!("{ROOT}/tests/cases/valid"),
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "probe") {
                v.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    v.sort();
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..VOCAB.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

/// Apply a mutation on char boundaries.
fn apply(src: &str, m: &Mutation) -> String {
    let chars: Vec<char> = src.chars().collect();
    let n = chars.len().max(1);
    let mut out = chars.clone();
    match *m {
        Mutation::Delete(a, len) => {
            let a = a % n;
            let b = (a + len).min(chars.len());
            out.drain(a.min(chars.len())..b);
        }
        Mutation::Insert(a, t) => {
            let a = a % (chars.len() + 1);
            let tok: Vec<char> = format!(" {} ", VOCAB[t]).chars().collect();
            out.splice(a..a, tok);
        }
        Mutation::Duplicate(a, len) => {
            let a = a % n;
            let b = (a + len).min(chars.len());
            let piece: Vec<char> = chars[a.min(chars.len())..b].to_vec();
            out.splice(b..b, piece);
        }
        Mutation::Swap(a, b) => {
            if !out.is_empty() {
                let (a, b) = (a % out.len(), b % out.len());
                out.swap(a, b);
            }
        }
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_token_streams(tokens in prop::collection::vec((0..VOCAB.len(), any::<bool>()), 0..60)) {
        let mut src = String::new();
        for (t, space) in tokens {
            src.push_str(VOCAB[t]);
            if space {
                src.push(' ');
            }
        }
        check_total(&src)?;
    }

    #[test]
    fn mutated_valid_scripts(seed in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..4)) {
        let seeds = seeds();
        let mut src = seeds[seed.index(seeds.len())].clone();
        for m in &muts {
            src = apply(&src, m);
        }
        check_total(&src)?;
    }

    #[test]
    fn arbitrary_text(src in "\\PC{0,200}") {
        check_total(&src)?;
    }
}

#[test]
fn pathological_nesting_and_length_do_not_overflow_the_stack() {
    let inputs = [
        format!("BEGIN {{ @x = {}1; }}", "(".repeat(20_000)),
        format!("BEGIN {{ @x = {}1; }}", "!".repeat(20_000)),
        format!("BEGIN {{ @x = {}1; }}", "1 + ".repeat(20_000)),
        format!(
            "BEGIN {{ @x = {}1{}; }}",
            "(1 + ".repeat(5_000),
            ")".repeat(5_000)
        ),
        format!("BEGIN {{ {} }}", "if (1) { ".repeat(5_000)),
        format!("BEGIN {} ", "{".repeat(20_000)),
        format!("BEGIN {{ @x = {}; }}", "$y ? 1 : ".repeat(5_000) + "2"),
        "BEGIN { for ($i : 0..256) { for ($j : 0..256) { @x = count(); } } }".to_string(),
        format!("BEGIN {{ {} }}", "@x = count(); ".repeat(5_000)),
        "x".repeat(2 << 20),
        format!(
            "BEGIN {{ @m[{}] = 1; }}",
            vec![format!("\"{}\"", "s".repeat(200)); 200].join(", ")
        ),
        format!(
            "BEGIN {{ @m = ({}); }}",
            vec![format!("\"{}\"", "s".repeat(200)); 200].join(", ")
        ),
        format!(
            "BEGIN {{ $t = ({}); @m[$t] = $t; }}",
            vec!["comm"; 40].join(", ")
        ),
    ];
    // Run on a thread with the default test stack, as the CLI's main thread
    // would have more.
    for src in inputs {
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                capscope_lang::compile(&src)
                    .map(|_| ())
                    .map_err(|e| e.errors().count())
            })
            .unwrap()
            .join();
        assert!(r.is_ok(), "compiler panicked or overflowed");
    }
}
