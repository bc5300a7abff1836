//! Boot every workload under QEMU (TCG) and check its ground truth
//! against the kernel's own accounting.

use capscope_tests::{BOOTSTRAP_CAPS, Outcome, boot, frames, line, numbers, teardown};

#[test]
fn leaky_leaks_exactly_what_it_says() {
    let run = boot("leaky");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let leaked = numbers(line(&run.console, "leaky: leaked "))[0];
    assert_eq!(leaked, 5);
    // The leaked Memory capabilities are still there when the task ends:
    // teardown frees them along with the bootstrap capabilities.
    let [status, freed, resolved, _, fatal] = teardown(&run.console, 1);
    assert_eq!((status, fatal), (0, 0));
    assert_eq!(freed, BOOTSTRAP_CAPS + leaked);
    // Each grow touched its region once: one demand fault per grow.
    assert_eq!(resolved, 8);
    // Teardown returned every frame, the leaked Memory objects' included.
    let (start, end) = frames(&run.console);
    assert_eq!(start, end, "frames leaked");
}

#[test]
fn overmap_counts_its_overmaps() {
    let run = boot("overmap");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "overmap: "));
    assert_eq!((n[0], n[1]), (3, 8));
    // Everything it made was deleted again.
    assert_eq!(teardown(&run.console, 1)[1], BOOTSTRAP_CAPS);
}

#[test]
fn protocol_mismatches_are_refused() {
    let run = boot("protocol");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "protocol: "));
    assert_eq!((n[0], n[1]), (4, 12));
    assert_eq!(teardown(&run.console, 1)[1], BOOTSTRAP_CAPS);
}

#[test]
fn pingpong_round_trips_between_two_tasks() {
    let run = boot("pingpong");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "pingpong: "));
    assert_eq!(n[0], 1000);
    assert!(n[1] > 0, "cycles per round trip");
    // The child (task 2) exited cleanly; its one mapped gate was torn down.
    assert_eq!(teardown(&run.console, 2)[..2], [0, 1]);
    assert_eq!(teardown(&run.console, 1)[1], BOOTSTRAP_CAPS);
    let (start, end) = frames(&run.console);
    assert_eq!(start, end, "frames leaked");
}

#[test]
fn pagefaults_are_resolved_and_one_is_caught() {
    let run = boot("pagefaults");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let l = line(&run.console, "pagefaults: ");
    assert!(l.contains("caught"), "{l}");
    let pages = numbers(l)[0];
    assert_eq!(pages, 64);
    let [_, _, resolved, reflected, fatal] = teardown(&run.console, 1);
    assert_eq!((resolved, reflected, fatal), (pages, 1, 0));
}

#[test]
fn syscalls_reports_cycles_per_call() {
    let run = boot("syscalls");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "syscalls: "));
    assert_eq!(n[0], 10_000);
    assert!(n[1] > 0);
}

#[test]
fn timer_waits_across_ticks() {
    let run = boot("timer");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "timer: "));
    assert!(n[0] >= 50, "ticks {}", n[0]);
    assert!(n[1] >= 20, "slept {} ms", n[1]);
    assert!(line(&run.console, "timer: ").contains("preempted a spinning thread"));
}

#[test]
fn badargs_gets_an_error_for_every_bad_call_and_the_kernel_survives() {
    let run = boot("badargs");
    assert_eq!(run.outcome, Outcome::Exited(0));
    let n = numbers(line(&run.console, "badargs: "));
    assert!(n[0] >= 60, "only {} checks", n[0]);
    assert_eq!(n[1], 0, "failures");
    assert!(!run.console.contains("KERNEL"), "{}", run.console);
    // Dozens of tasks, Memory objects and attachments came and went:
    // every frame is back.
    let (start, end) = frames(&run.console);
    assert_eq!(start, end, "frames leaked");
}
