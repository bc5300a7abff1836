//! The checkers of `probes/`, run end to end with `capscope run` on the
//! workloads they exist for, under QEMU: each must find exactly what the
//! workload's own ground-truth line says (docs/kernel.md, "Workloads").
//!
//! Nothing here is a hard-coded answer: the expected slots, counts and
//! addresses are parsed from the console line the workload prints from its
//! own bookkeeping (which `workloads.rs` checks against the kernel's
//! accounting), and the probes' findings from `capscope run`'s output:
//! bpftrace-style text for the leak demo that the README shows, JSON lines
//! for everything else (every line must parse).

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use capscope_tests::{capscope, line, numbers, runner};
use serde_json::Value;

/// What one `capscope run` printed.
struct Output {
    /// The probes' output (text or JSON lines).
    stdout: String,
    /// The kernel's and the workload's console, and warnings.
    stderr: String,
}

/// The path of a script in `probes/`.
fn probe(name: &str) -> String {
    runner::repo_root()
        .join("probes")
        .join(name)
        .display()
        .to_string()
}

/// `capscope run -w WORKLOAD [ARGS] SCRIPT`, killed if it takes longer
/// than three minutes (a hang is a failure, never a stuck CI run; a run
/// takes a few seconds under TCG, more on a loaded machine).
fn run(workload: &str, script: &str, args: &[&str]) -> Output {
    let mut child = Command::new(capscope())
        .args(["run", "-w", workload, "--timeout", "170"])
        .args(args)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("capscope runs");
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).replace('\r', "")
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = Output {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    eprintln!(
        "--- capscope run -w {workload} {args:?} {script}\n{}\n--- stderr\n{}",
        o.stdout, o.stderr
    );
    let status = status.expect("capscope run took more than three minutes");
    assert!(status.success(), "capscope run failed: {status}");
    o
}

/// Every stdout line as JSON; each must parse and be `{"type", "data"}`.
fn json_lines(o: &Output) -> Vec<Value> {
    o.stdout
        .lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l:?}: {e}"));
            assert!(v["type"].is_string() && v.get("data").is_some(), "{l}");
            v
        })
        .collect()
}

/// The `data` of every JSON line of `kind` that holds map `name`.
fn map_data<'a>(lines: &'a [Value], kind: &str, name: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["type"] == kind)
        .filter_map(|l| l["data"].get(name))
        .collect()
}

/// The id of the workload's main task: the first task the kernel reports
/// exiting is the main task's (it is started first; children exit first
/// only in pingpong, which no checker uses).
fn main_task(console: &str) -> u64 {
    numbers(line(console, "capscope: task "))[0]
}

/// The numbers in a JSON key of comma-separated fields.
fn key_numbers(key: &str) -> Vec<u64> {
    key.split(',')
        .map(|k| {
            k.parse()
                .unwrap_or_else(|_| panic!("not a number: {k} in {key}"))
        })
        .collect()
}

/// A stack's frame names, innermost first, without their offsets.
fn functions<'a>(frames: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    frames
        .into_iter()
        .map(|f| f.rsplit_once('+').map_or(f, |(name, _)| name).to_string())
        .collect()
}

/// `@live[owner, slot]:` entries of the text output, each with its stack.
fn text_map_with_stacks(stdout: &str, name: &str) -> BTreeMap<Vec<u64>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<Vec<u64>> = None;
    for l in stdout.lines() {
        if let Some(rest) = l.strip_prefix(&format!("{name}[")) {
            let key = rest
                .strip_suffix("]:")
                .unwrap_or_else(|| panic!("a stack value starts on the next line: {l}"));
            let key: Vec<u64> = key
                .split(", ")
                .map(|k| k.parse().expect("number"))
                .collect();
            out.insert(key.clone(), Vec::new());
            current = Some(key);
        } else if let Some(frame) = l.strip_prefix("        ") {
            let key = current.as_ref().expect("a frame belongs to an entry");
            out.get_mut(key).expect("entry").push(frame.to_string());
        } else {
            current = None;
        }
    }
    out
}

/// The leak demo (the README's main command): `cap-leak.probe` on `leaky`
/// reports exactly the slots the workload says it leaked, in its main
/// task, each with a stack in which `grow_heap` is called from `main`.
#[test]
fn cap_leak_finds_exactly_the_leaked_capabilities_with_their_stacks() {
    let o = run("leaky", &probe("cap-leak.probe"), &[]);
    let truth = line(&o.stderr, "leaky: leaked ");
    let n = numbers(truth);
    let (count, slots) = (n[0], &n[1..]);
    assert_eq!(slots.len() as u64, count, "{truth}");
    let task = main_task(&o.stderr);
    assert!(
        o.stdout.starts_with("Attaching 3 probes...\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("capabilities allocated and never freed"));

    let live = text_map_with_stacks(&o.stdout, "@live");
    let found: Vec<u64> = live.keys().map(|k| k[1]).collect();
    assert_eq!(found, slots, "leaked slots");
    for (key, frames) in &live {
        assert_eq!(key[0], task, "owner of slot {}", key[1]);
        let names = functions(frames.iter().map(String::as_str));
        let grow = names.iter().position(|n| n == "leaky::grow_heap");
        let main = names.iter().position(|n| n == "leaky::main");
        assert!(
            matches!((grow, main), (Some(g), Some(m)) if g < m),
            "slot {}: grow_heap called from main in {frames:?}",
            key[1]
        );
    }

    // The same findings as JSON: keys "owner,slot", stacks as arrays of
    // symbolized frames.
    let o = run("leaky", &probe("cap-leak.probe"), &["-f", "json"]);
    let lines = json_lines(&o);
    assert_eq!(lines[0]["type"], "attached_probes");
    assert_eq!(lines[0]["data"]["probes"], 3);
    let maps = map_data(&lines, "map", "@live");
    assert_eq!(maps.len(), 1, "printed once, by END");
    let live = maps[0].as_object().expect("a keyed map");
    let mut found: Vec<u64> = live.keys().map(|k| key_numbers(k)[1]).collect();
    found.sort_unstable();
    assert_eq!(found, slots);
    for (key, stack) in live {
        let frames: Vec<&str> = stack
            .as_array()
            .expect("a stack is an array")
            .iter()
            .map(|f| f.as_str().expect("frames are strings"))
            .collect();
        assert!(
            functions(frames).contains(&"leaky::grow_heap".to_string()),
            "{key}: {stack}"
        );
    }
}

/// `cap-overmap.probe` on `overmap`: each overmap the workload made, once,
/// with its slots and the stack of the map call.
#[test]
fn cap_overmap_reports_each_overmap_with_its_slots_and_stack() {
    let o = run("overmap", &probe("cap-overmap.probe"), &["-f", "json"]);
    let truth = line(&o.stderr, "overmap: ");
    let n = numbers(truth);
    let k = n[0];
    // "(slot S onto D, ...)": (src, dst) pairs after the two counts.
    let mut expected: Vec<(u64, u64)> = n[2..].chunks(2).map(|c| (c[0], c[1])).collect();
    assert_eq!(expected.len() as u64, k, "{truth}");
    expected.sort_unstable();
    let task = main_task(&o.stderr);
    let lines = json_lines(&o);

    // The map: [dst_task, dst_slot, src_task, src_slot, ustack] = count().
    let maps = map_data(&lines, "map", "@overmaps");
    assert_eq!(maps.len(), 1);
    let mut found = Vec::new();
    for (key, count) in maps[0].as_object().expect("keyed") {
        let mut parts = key.splitn(5, ',');
        let mut num = || -> u64 { parts.next().and_then(|p| p.parse().ok()).expect("a number") };
        let (dst_task, dst_slot, src_task, src_slot) = (num(), num(), num(), num());
        let stack = parts.next().expect("the stack");
        assert_eq!((dst_task, src_task), (task, task), "{key}");
        assert!(
            functions(stack.split(';')).contains(&"overmap::main".to_string()),
            "the map site: {key}"
        );
        for _ in 0..count.as_u64().expect("a count") {
            found.push((src_slot, dst_slot));
        }
    }
    found.sort_unstable();
    assert_eq!(found, expected, "overmaps (src, dst)");

    // And one printf line per overmap, as it happened.
    let mut printed: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["type"] == "printf")
        .filter_map(|l| l["data"].as_str())
        .filter(|s| s.starts_with("overmap: "))
        .map(|s| {
            let n = numbers(s);
            // task T slot D <- task T slot S
            (n[3], n[1])
        })
        .collect();
    printed.sort_unstable();
    assert_eq!(printed, expected);
}

/// `cap-protocol.probe` on `protocol`: the M mismatched calls, counted by
/// calling task, gate and label; every key's label differs from the
/// gate's.
#[test]
fn cap_protocol_counts_the_mismatched_calls() {
    let o = run("protocol", &probe("cap-protocol.probe"), &["-f", "json"]);
    let m = numbers(line(&o.stderr, "protocol: "))[0];
    let task = main_task(&o.stderr);
    let lines = json_lines(&o);
    let maps = map_data(&lines, "map", "@mismatches");
    assert_eq!(maps.len(), 1);
    let mut total = 0;
    for (key, count) in maps[0].as_object().expect("keyed") {
        let k = key_numbers(key);
        let (caller, _gate, label, expected) = (k[0], k[1], k[2], k[3]);
        assert_eq!(caller, task, "{key}");
        assert_ne!(label, expected, "{key}");
        total += count.as_u64().expect("a count");
    }
    assert_eq!(total, m, "mismatched calls");
}

/// `irq-latency.probe` on `timer`: a log2 histogram per vector; the timer
/// vector (IRQ 0 at 32) saw at least the ticks the workload waited for.
#[test]
fn irq_latency_histograms_per_vector() {
    let o = run("timer", &probe("irq-latency.probe"), &["-f", "json"]);
    let ticks = numbers(line(&o.stderr, "timer: "))[0];
    let lines = json_lines(&o);
    let hists = map_data(&lines, "hist", "@ns");
    assert_eq!(hists.len(), 1);
    let per_vector = hists[0].as_object().expect("keyed by vector");
    let timer = per_vector.get("32").expect("the timer vector");
    let mut total = 0;
    for b in timer.as_array().expect("buckets") {
        let (min, max) = (b["min"].as_i64(), b["max"].as_i64());
        // Latencies are durations: no negative bucket; log2 bounds.
        let (min, max) = (min.expect("min"), max.expect("max"));
        assert!(min >= 0 && max >= min, "{b}");
        assert!(min == 0 || (min as u64).is_power_of_two(), "{b}");
        total += b["count"].as_u64().expect("count");
    }
    assert!(
        total >= ticks,
        "{total} timer interrupts, the workload waited for {ticks}"
    );
    // The start times were cleared: only the histograms print.
    assert!(map_data(&lines, "map", "@start").is_empty());
}

/// `syscall-count.probe` on `syscalls`: per task and per syscall name,
/// the null calls add up to the workload's total (the per-second prints
/// and the one at the end together).
#[test]
fn syscall_count_matches_the_workloads_null_syscalls() {
    let o = run("syscalls", &probe("syscall-count.probe"), &["-f", "json"]);
    let truth = line(&o.stderr, "syscalls: ");
    let total = *numbers(truth).last().expect("the total");
    let task = main_task(&o.stderr);
    let lines = json_lines(&o);
    let prints = map_data(&lines, "map", "@");
    assert!(!prints.is_empty(), "the map is printed at least at the end");
    let mut null = 0;
    for p in &prints {
        for (key, count) in p.as_object().expect("keyed") {
            let (t, name) = key.split_once(',').expect("task,syscall");
            assert!(
                !name.chars().all(|c| c.is_ascii_digit()),
                "syscall numbers print as names: {key}"
            );
            if t == task.to_string() && name == "null" {
                null += count.as_u64().expect("a count");
            }
        }
    }
    assert_eq!(null, total, "{truth}");
}

/// `pagefault.probe` on `pagefaults`: P resolved faults and 1 reflected,
/// at the address the workload touched.
#[test]
fn pagefault_outcomes_and_the_reflected_address() {
    let o = run("pagefaults", &probe("pagefault.probe"), &["-f", "json"]);
    let truth = line(&o.stderr, "pagefaults: ");
    let pages = numbers(truth)[0];
    let addr = truth.rsplit_once(" at ").expect("the address").1.trim();
    let task = main_task(&o.stderr);
    let lines = json_lines(&o);
    let outcomes = map_data(&lines, "map", "@outcomes");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["FAULT_RESOLVED"], pages);
    assert_eq!(outcomes[0]["FAULT_REFLECTED"], 1);
    assert!(outcomes[0].get("FAULT_FATAL").is_none());
    let reflected = map_data(&lines, "map", "@reflected");
    assert_eq!(reflected.len(), 1);
    let entries = reflected[0].as_object().expect("keyed");
    assert_eq!(entries.len(), 1);
    let (key, count) = entries.iter().next().expect("one entry");
    let k: Vec<&str> = key.split(',').collect();
    assert_eq!((k[0], k[1]), (task.to_string().as_str(), addr), "{key}");
    assert_eq!(count, 1);
}
