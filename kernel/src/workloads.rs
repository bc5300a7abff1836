//! The ring-3 workloads embedded in the image (built from `kernel/user` by
//! build.rs). `workload=NAME` on the command line picks one.

use core::sync::atomic::{AtomicPtr, Ordering};

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

programs!(
    "leaky",
    "overmap",
    "protocol",
    "pingpong",
    "pagefaults",
    "syscalls",
    "timer",
    "badargs"
);

/// Look a workload up by name.
pub fn by_name(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == name)
}

/// The running task's program (null: idle). A plain pointer store on
/// every return to user mode, read by probes' `comm`.
static CURRENT: AtomicPtr<Program> = AtomicPtr::new(core::ptr::null_mut());

/// Record the program of the task about to run (`None`: idle).
pub fn set_current(p: Option<&'static Program>) {
    let ptr = p.map_or(core::ptr::null_mut(), |p| {
        p as *const Program as *mut Program
    });
    CURRENT.store(ptr, Ordering::Relaxed);
}

/// The running task's program name ("idle" when none).
pub fn current_name() -> &'static str {
    let p = CURRENT.load(Ordering::Relaxed);
    // SAFETY: the pointer is null or was made from a `&'static Program`.
    unsafe { p.as_ref() }.map_or("idle", |p| p.name)
}
