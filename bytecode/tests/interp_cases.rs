//! Hand-written interpreter cases, one file each under `tests/interp/`.
//!
//! Each file is assembly (docs/bytecode.md) whose header comments say what
//! the run must produce. Directive lines have the form `; key: value`; an
//! unknown key fails the test, so a typo cannot silently drop a check.
//!
//! | key | meaning |
//! |---|---|
//! | `r0: V` | the run exits with r0 = V (decimal, `0x` hex, or negative) |
//! | `trap: KIND at N` | the run traps at slot N; KIND is a prefix of the `TrapKind`'s `Debug` text |
//! | `steps: N` | instructions executed (on exit) |
//! | `map: KIND:KEY:VALUE:MAX` | adds a map (numbered from 0 in order) |
//! | `ctx: HEX` | the context bytes (default: 64 bytes 00 01 02 ..) |
//! | `fuel: N`, `frames: N` | interpreter limits |
//! | `cpu: N`, `cpus: N` | the model's current CPU and CPU count |
//! | `user-mem: ADDR HEX`, `kernel-mem: ADDR HEX` | fake memory for probe_read_* |
//! | `entry: M KEYHEX = VAL[,VAL..]` | map M holds exactly the listed entries (all lines together) |
//! | `record: M HEX` | ring buffer M holds exactly the listed records, in order |
//! | `drops: M N` | map M counted N drops |
//!
//! Every case that exits is also run in trusted mode, which must agree.

use std::fmt::Write as _;
use std::path::Path;

use capscope_bytecode::asm;
use capscope_bytecode::interp::{self, Config};
use capscope_bytecode::model::{EventState, FakeMemory, ModelEnv, Snapshot};
use capscope_bytecode::object::{MapDef, MapKind};

#[derive(Default)]
struct Case {
    r0: Option<u64>,
    trap: Option<(String, u32)>,
    steps: Option<u64>,
    maps: Vec<MapDef>,
    ctx: Option<Vec<u8>>,
    cfg: Config,
    event: EventState,
    /// Expected entries per map index: (key, values).
    entries: Vec<(usize, Vec<u8>, Vec<Vec<u8>>)>,
    records: Vec<(usize, Vec<u8>)>,
    drops: Vec<(usize, u64)>,
}

fn num(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let r = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(&h.replace('_', ""), 16).ok()
    } else if let Some(n) = s.strip_prefix('-') {
        n.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        s.parse::<u64>().ok()
    };
    r.ok_or_else(|| format!("bad number `{s}`"))
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd hex `{s}`"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("bad hex `{s}`")))
        .collect()
}

fn parse(text: &str) -> Result<Case, String> {
    let mut c = Case::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("; ") else {
            continue;
        };
        let Some((key, val)) = rest.split_once(": ") else {
            continue;
        };
        if !key
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch.is_ascii_digit())
        {
            continue;
        }
        let val = val.trim();
        match key {
            "r0" => c.r0 = Some(num(val)?),
            "trap" => {
                let (kind, at) = val.rsplit_once(" at ").ok_or("trap: KIND at N")?;
                c.trap = Some((kind.trim().to_string(), num(at)? as u32));
            }
            "steps" => c.steps = Some(num(val)?),
            "fuel" => c.cfg.fuel = num(val)?,
            "frames" => c.cfg.max_frames = num(val)? as usize,
            "cpu" => c.event.cpu = num(val)? as u32,
            "cpus" => c.event.ncpus = num(val)? as u32,
            "ctx" => c.ctx = Some(hex(val)?),
            "map" => {
                let p: Vec<&str> = val.split(':').collect();
                let [kind, k, v, m] = p[..] else {
                    return Err(format!("map: `{val}`"));
                };
                c.maps.push(MapDef {
                    name: format!("map{}", c.maps.len()),
                    kind: MapKind::from_name(kind).ok_or(format!("map kind `{kind}`"))?,
                    key_size: num(k)? as u32,
                    value_size: num(v)? as u32,
                    max_entries: num(m)? as u32,
                    display: Default::default(),
                });
            }
            "user-mem" | "kernel-mem" => {
                let (addr, bytes) = val.split_once(' ').ok_or("ADDR HEX")?;
                let m = FakeMemory {
                    addr: num(addr)?,
                    bytes: hex(bytes)?,
                };
                if key == "user-mem" {
                    c.event.user_memory.push(m);
                } else {
                    c.event.kernel_memory.push(m);
                }
            }
            "entry" => {
                let (m, rest) = val.split_once(' ').ok_or("entry: M KEY = VALUES")?;
                let (k, vs) = rest.split_once('=').ok_or("entry: M KEY = VALUES")?;
                let values = vs.split(',').map(hex).collect::<Result<_, _>>()?;
                c.entries.push((num(m)? as usize, hex(k)?, values));
            }
            "record" => {
                let (m, bytes) = val.split_once(' ').ok_or("record: M HEX")?;
                c.records.push((num(m)? as usize, hex(bytes)?));
            }
            "drops" => {
                let (m, n) = val.split_once(' ').ok_or("drops: M N")?;
                c.drops.push((num(m)? as usize, num(n)?));
            }
            other => return Err(format!("unknown directive `{other}`")),
        }
    }
    if c.r0.is_some() == c.trap.is_some() {
        return Err("exactly one of `r0:` and `trap:` is required".into());
    }
    Ok(c)
}

fn check_maps(c: &Case, snap: &Snapshot) -> Result<(), String> {
    let mut with_entries: Vec<usize> = c.entries.iter().map(|e| e.0).collect();
    with_entries.dedup();
    for m in with_entries {
        let want: Vec<(Vec<u8>, Vec<Vec<u8>>)> = c
            .entries
            .iter()
            .filter(|e| e.0 == m)
            .map(|e| (e.1.clone(), e.2.clone()))
            .collect();
        let map = snap.maps.get(m).ok_or(format!("no map {m}"))?;
        let got: Vec<(Vec<u8>, Vec<Vec<u8>>)> = map
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.values.clone()))
            .collect();
        if got != want {
            return Err(format!("map {m}: entries {got:x?}, expected {want:x?}"));
        }
    }
    let mut with_records: Vec<usize> = c.records.iter().map(|e| e.0).collect();
    with_records.dedup();
    for m in with_records {
        let want: Vec<Vec<u8>> = c
            .records
            .iter()
            .filter(|r| r.0 == m)
            .map(|r| r.1.clone())
            .collect();
        let got = &snap.maps.get(m).ok_or(format!("no map {m}"))?.records;
        if *got != want {
            return Err(format!("map {m}: records {got:x?}, expected {want:x?}"));
        }
    }
    for &(m, n) in &c.drops {
        let got = snap.maps.get(m).ok_or(format!("no map {m}"))?.drops;
        if got != n {
            return Err(format!("map {m}: {got} drops, expected {n}"));
        }
    }
    Ok(())
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let c = parse(&text)?;
    let slots = asm::assemble(&text).map_err(|e| format!("assembly: {e:?}"))?;
    let ctx = c.ctx.clone().unwrap_or_else(|| (0..64).collect());
    let mut env = ModelEnv::new(&c.maps, c.event.clone());
    let got = interp::run(&slots, &ctx, &mut env, &c.cfg);
    match (&got, c.r0, &c.trap) {
        (Ok(exit), Some(r0), _) => {
            if exit.r0 != r0 {
                return Err(format!("r0 = {:#x}, expected {r0:#x}", exit.r0));
            }
            if let Some(steps) = c.steps
                && exit.steps != steps
            {
                return Err(format!("{} steps, expected {steps}", exit.steps));
            }
            // The trusted fast path must agree on programs the checked mode
            // ran to completion.
            let mut env2 = ModelEnv::new(&c.maps, c.event.clone());
            // SAFETY: the checked run of this same program over the same
            // context and an equal environment completed without a trap,
            // and the program is deterministic, so the trusted run makes
            // exactly the same (checked) accesses.
            let trusted = unsafe { interp::run_trusted(&slots, &ctx, &mut env2, &c.cfg) };
            if trusted != got {
                return Err(format!("trusted run {trusted:?} differs from {got:?}"));
            }
            if env2.snapshot() != env.snapshot() {
                return Err("trusted run left different maps".into());
            }
        }
        (Err(trap), None, Some((kind, at))) => {
            let dbg = format!("{:?}", trap.kind);
            if !dbg.starts_with(kind.as_str()) || trap.at.0 != *at {
                return Err(format!(
                    "trapped with {dbg} at {}, expected {kind} at {at}",
                    trap.at
                ));
            }
        }
        _ => return Err(format!("got {got:?}")),
    }
    check_maps(&c, &env.snapshot())
}

#[test]
fn interp_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interp");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/interp exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "s"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "only {} cases found", files.len());
    let mut failures = String::new();
    for f in &files {
        if let Err(e) = run_case(f) {
            let _ = writeln!(
                failures,
                "{}: {e}",
                f.file_name().unwrap_or_default().to_string_lossy()
            );
        }
    }
    assert!(failures.is_empty(), "failing cases:\n{failures}");
}
