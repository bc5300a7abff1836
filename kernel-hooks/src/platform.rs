//! What a kernel provides: the [`Platform`] trait.
//!
//! This is the whole porting surface. The crate never touches hardware or
//! kernel data structures itself; time, the current CPU and thread, user
//! memory, stacks and cross-CPU barriers all come through here.

/// Bytes of a task name (`comm`), NUL-padded, as in Linux.
pub const COMM_LEN: usize = 16;

/// A user address could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

/// Where the kernel stack walk starts: the frame-pointer value of the
/// innermost frame *outside* the probe machinery (the frame of `fire`'s
/// caller, whose return address is the hook site), or 0 when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelFrame(pub u64);

/// The services a kernel gives the probe machinery.
///
/// Every method may be called from the fire path, that is, from any hook
/// site, with the kernel in whatever state that hook site is in. None may
/// block, allocate, take a lock the hook sites may hold, or fire a hook
/// itself (a nested fire is dropped and counted, so it is harmless, only
/// wasteful). Methods that read memory must be fault-safe: an address the
/// kernel cannot read yields an error, never a fault.
pub trait Platform: Sync {
    /// Nanoseconds since boot: monotonic, from a calibrated TSC (see
    /// [`crate::tsc`]). Backs `ktime_get_ns`, timestamps and run times.
    fn now_ns(&self) -> u64;

    /// The index of the CPU running the caller, below [`Platform::cpus`].
    /// It must not change during a fire (the kernel is not preemptible
    /// there), and no two contexts may run on one index at the same time.
    /// A value `>= cpus()` means "this context runs no programs": events
    /// from it are counted as missed. On a platform with one CPU the fire
    /// path and the helpers do not call it (the index can only be 0, and a
    /// dynamic call per event is a tenth of the fire path's cost there);
    /// re-entry from an interrupt is still refused by the per-CPU sequence.
    fn cpu(&self) -> usize;

    /// The number of CPUs, fixed from [`crate::init`] on; at most
    /// [`crate::MAX_CPUS`]. Per-CPU maps have this many copies.
    fn cpus(&self) -> usize;

    /// The current task and thread ids, `(0, 0)` in the idle loop. Used for
    /// the headers of `BEGIN`, `END` and `interval` events (the hook sites
    /// fill their own headers).
    fn current(&self) -> (u32, u32);

    /// The current task's name, NUL-padded (`get_current_comm`).
    fn comm(&self, buf: &mut [u8; COMM_LEN]);

    /// Copy `buf.len()` bytes from `addr` in the current address space's
    /// user half, through the kernel's fault-safe copy routine. Addresses
    /// are canonical and in the user half when this is called (the crate
    /// checks); whether they are mapped is the kernel's question.
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;

    /// Whether `[addr, addr + len)` is kernel memory that probes may read
    /// with `probe_read_kernel` (mapped, and not secret). Called before the
    /// crate reads it with an ordinary load.
    fn kernel_readable(&self, addr: u64, len: usize) -> bool;

    /// Return addresses of the current thread's user stack, innermost
    /// first (the user RIP, then a frame-pointer walk through fault-safe
    /// user reads), into `out`. Returns how many were written; 0 if there
    /// is no user context.
    fn walk_user_stack(&self, out: &mut [u64]) -> usize;

    /// Return addresses of the kernel stack from `from` outward (first the
    /// return address stored in `from`'s frame, that is, the hook site),
    /// reading only memory the kernel knows is its stack. Returns how many
    /// were written.
    fn walk_kernel_stack(&self, from: KernelFrame, out: &mut [u64]) -> usize;

    /// Make every other CPU execute a full memory barrier before this
    /// returns (an IPI whose handler runs `mfence`; on a single-CPU kernel,
    /// nothing). The grace-period argument in [`crate::epoch`] rests on it,
    /// and it lets the fire path do without any barrier of its own.
    fn synchronize_cpus(&self);

    /// Called in every spin-wait loop (a grace period waiting for a CPU to
    /// leave its programs, a map lock held by another CPU). A kernel whose
    /// CPUs are real needs nothing but the default pause hint; a host whose
    /// "CPUs" are threads the OS may preempt yields, so the waiter does not
    /// burn the time slice the holder needs.
    fn relax(&self) {
        core::hint::spin_loop();
    }
}
