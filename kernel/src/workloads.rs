//! The ring-3 workloads embedded in the image (built from `kernel/user` by
//! build.rs). `workload=NAME` on the command line picks one.

use core::sync::atomic::{AtomicUsize, Ordering};

/// An embedded program.
pub struct Program {
    /// Its name (also the task's `comm`).
    pub name: &'static str,
    /// Its ELF image.
    pub elf: &'static [u8],
}

macro_rules! programs {
    ($($name:literal),* $(,)?) => {
        /// Every embedded workload.
        pub static PROGRAMS: &[Program] = &[
            $(Program {
                name: $name,
                elf: include_bytes!(concat!(env!("CAPSCOPE_USER_BIN"), "/", $name)),
            },)*
        ];
    };
}

programs!("leaky", "overmap", "protocol", "pingpong", "pagefaults", "syscalls", "timer", "badargs");

/// Look a workload up by name.
pub fn by_name(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == name)
}

static CURRENT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Record the program of the task about to run (`None`: idle).
pub fn set_current(p: Option<&'static Program>) {
    let i = p.and_then(|p| PROGRAMS.iter().position(|q| core::ptr::eq(q, p)));
    CURRENT.store(i.unwrap_or(usize::MAX), Ordering::Relaxed);
}

/// The running task's program name ("idle" when none).
pub fn current_name() -> &'static str {
    PROGRAMS.get(CURRENT.load(Ordering::Relaxed)).map_or("idle", |p| p.name)
}
