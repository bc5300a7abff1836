//! docs/abi.md's tables are generated from `bytecode::abi`, and this test
//! keeps them in sync: it regenerates every `<!-- BEGIN GENERATED: name -->`
//! section and fails on any difference. Run with `CAPSCOPE_BLESS=1` to
//! rewrite the sections after changing the ABI.

use std::fmt::Write as _;
use std::path::Path;

use capscope_bytecode::abi::consts;
use capscope_bytecode::abi::helpers::{Arg, HELPERS, Ret};
use capscope_bytecode::abi::{AttachPoint, context};
use capscope_bytecode::object::{MapKind, limits};

/// The context struct's name for each point, as the docs call it.
fn context_name(p: AttachPoint) -> &'static str {
    match p {
        AttachPoint::SyscallEnter => "SyscallEnterCtx",
        AttachPoint::SyscallExit => "SyscallExitCtx",
        AttachPoint::IrqEntry | AttachPoint::IrqExit => "IrqCtx",
        AttachPoint::PageFault => "PageFaultCtx",
        AttachPoint::CapAlloc | AttachPoint::CapFree => "CapSlotCtx",
        AttachPoint::CapMap => "CapMapCtx",
        AttachPoint::CapUnmap => "CapUnmapCtx",
        AttachPoint::CapInvoke => "CapInvokeCtx",
        AttachPoint::Begin | AttachPoint::End | AttachPoint::Interval => "EventHeader",
    }
}

fn attach_points() -> String {
    let mut s = String::from("| point | context | bytes | fires when |\n|---|---|---|---|\n");
    for p in AttachPoint::ALL {
        let name = match p {
            AttachPoint::Interval => "`interval:s:N`, `interval:ms:N`".to_string(),
            _ => format!("`{}`", p.name()),
        };
        let _ = writeln!(
            s,
            "| {name} | [`{c}`](#{a}) | {} | {} |",
            p.context_size(),
            p.doc(),
            c = context_name(p),
            a = context_name(p).to_lowercase()
        );
    }
    s
}

fn contexts() -> String {
    let mut s = String::new();
    let header = AttachPoint::Begin.fields();
    let _ = writeln!(
        s,
        "### EventHeader\n\nEvery context starts with these {} bytes; `BEGIN`, `END` and `interval` get only them.\n",
        std::mem::size_of::<context::EventHeader>()
    );
    field_table(&mut s, header);
    let mut seen: Vec<&str> = vec!["EventHeader"];
    for p in AttachPoint::ALL {
        let name = context_name(p);
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let points: Vec<String> = AttachPoint::ALL
            .iter()
            .filter(|q| context_name(**q) == name)
            .map(|q| format!("`{}`", q.name()))
            .collect();
        let _ = writeln!(
            s,
            "\n### {name}\n\n{} ({} bytes): the header, then:\n",
            points.join(", "),
            p.context_size()
        );
        let own: Vec<_> = p.fields().iter().copied().filter(|f| !f.header).collect();
        field_table(&mut s, &own);
    }
    s
}

fn field_table(s: &mut String, fields: &[capscope_bytecode::abi::fields::Field]) {
    s.push_str("| offset | type | field | meaning | description |\n|---|---|---|---|---|\n");
    for f in fields {
        let _ = writeln!(
            s,
            "| {} | `{}` | `{}` | {:?} | {} |",
            f.offset,
            f.ty.name(),
            f.name,
            f.meaning,
            f.doc
        );
    }
}

fn arg(a: &Arg) -> String {
    match a {
        Arg::Scalar => "scalar".into(),
        Arg::Map(kinds) => {
            let k: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            format!("map ({})", k.join(", "))
        }
        Arg::MapKey => "key pointer".into(),
        Arg::MapValue => "value pointer".into(),
        Arg::Ctx => "ctx".into(),
        Arg::ReadMem => "pointer to read".into(),
        Arg::WriteMem => "pointer to write".into(),
        Arg::Size => "size".into(),
    }
}

fn helpers() -> String {
    let mut s = String::from(
        "| id | helper | r1, r2, ... | returns | what it does |\n|---|---|---|---|---|\n",
    );
    for h in HELPERS {
        let args: Vec<String> = h.args.iter().map(arg).collect();
        let ret = match h.ret {
            Ret::Scalar => "scalar",
            Ret::MapValueOrNull => "value pointer or null",
        };
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {ret} | {} |",
            h.id,
            h.name,
            if args.is_empty() {
                "-".into()
            } else {
                args.join(", ")
            },
            h.doc
        );
    }
    s
}

fn map_kinds() -> String {
    let mut s = String::from("| kind | per CPU | `--map` example |\n|---|---|---|\n");
    for k in MapKind::ALL {
        let example = match k {
            MapKind::RingBuf => "ringbuf:0:0:4096".to_string(),
            MapKind::StackTrace => "stack_trace:4:1016:1024".to_string(),
            MapKind::Array | MapKind::PerCpuArray => format!("{}:4:8:256", k.name()),
            _ => format!("{}:8:8:1024", k.name()),
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | `{example}` |",
            k.name(),
            if k.per_cpu() { "yes" } else { "no" }
        );
    }
    let _ = write!(
        s,
        "\nLimits: keys 1 to {} bytes, values 1 to {} bytes, 1 to {} entries (a ring buffer: a power of two of at least 4096 bytes), stacks up to {} frames, {} maps per object.\n",
        limits::MAX_KEY_SIZE,
        limits::MAX_VALUE_SIZE,
        limits::MAX_ENTRIES,
        limits::MAX_STACK_DEPTH,
        limits::MAX_MAPS
    );
    s
}

fn constants() -> String {
    let groups: [(&str, &str); 8] = [
        ("KIND_", "Object kinds"),
        ("RIGHT_", "Capability rights (bits)"),
        ("MAP_", "Flags of the `map` syscall"),
        ("UNMAP_", "Flags of the `unmap` syscall"),
        ("FAULT_", "Page-fault access bits and outcomes"),
        ("FREE_", "Why a slot emptied (`cap:free` reason)"),
        ("E", "Error codes (syscalls return them negated)"),
        ("SYS_", "System calls"),
    ];
    let mut s = String::new();
    for (prefix, title) in groups {
        if prefix == "SYS_" {
            let _ = writeln!(
                s,
                "**{title}** (`SYS_<NAME>`):\n\n| nr | name | arguments | what it does |\n|---|---|---|---|"
            );
            for c in consts::SYSCALLS {
                let _ = writeln!(s, "| {} | `{}` | {} | {} |", c.nr, c.name, c.args, c.doc);
            }
            continue;
        }
        let _ = writeln!(s, "**{title}**:\n\n| name | value |\n|---|---|");
        for (n, v) in
            consts::named().filter(|(n, _)| n.starts_with(prefix) && !n.starts_with("SYS_"))
        {
            let _ = writeln!(s, "| `{n}` | {v} |");
        }
        s.push('\n');
    }
    s
}

fn generate(name: &str) -> Option<String> {
    Some(match name {
        "attach-points" => attach_points(),
        "contexts" => contexts(),
        "helpers" => helpers(),
        "map-kinds" => map_kinds(),
        "constants" => constants(),
        _ => return None,
    })
}

#[test]
fn abi_doc_is_in_sync() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/abi.md");
    let doc = std::fs::read_to_string(&path).expect("docs/abi.md exists");
    let mut out = String::new();
    let mut rest = doc.as_str();
    let mut found = Vec::new();
    let mut stale = Vec::new();
    while let Some(start) = rest.find("<!-- BEGIN GENERATED: ") {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let name_end = tail.find(" -->").expect("marker closes");
        let name = &tail["<!-- BEGIN GENERATED: ".len()..name_end];
        let end_marker = format!("<!-- END GENERATED: {name} -->");
        let end = tail
            .find(&end_marker)
            .unwrap_or_else(|| panic!("no end marker for {name}"));
        let body_start = name_end + " -->\n".len();
        let current = &tail[body_start.min(end)..end];
        let want = generate(name).unwrap_or_else(|| panic!("unknown generated section {name}"));
        if current != want {
            stale.push(name.to_string());
        }
        found.push(name.to_string());
        let _ = write!(out, "<!-- BEGIN GENERATED: {name} -->\n{want}{end_marker}");
        rest = &tail[end + end_marker.len()..];
    }
    out.push_str(rest);
    for name in [
        "attach-points",
        "contexts",
        "helpers",
        "map-kinds",
        "constants",
    ] {
        assert!(
            found.iter().any(|f| f == name),
            "docs/abi.md lacks the generated section {name}"
        );
    }
    if std::env::var_os("CAPSCOPE_BLESS").is_some() {
        std::fs::write(&path, out).expect("write docs/abi.md");
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/abi.md is out of date in {stale:?}; run `CAPSCOPE_BLESS=1 cargo test -p capscope-bytecode --test abi_doc`"
    );
}
