//! The fire path: what runs when the kernel reports an event.
//!
//! `fire` is `#[inline(always)]` into every hook site. With nothing
//! attached at its point it is one load of a per-point flag and one
//! predictable branch, and the context is never even built. With programs
//! attached, [`run_point`] marks this CPU as running programs, loads the
//! current snapshot of attached programs, and makes one indirect call per
//! program.
//!
//! # Per-CPU state
//!
//! Each CPU has a [`CpuSlot`]: a sequence number that is odd while the CPU
//! runs programs, and the current event's context and kernel frame, which
//! helpers read (they are plain `extern "C"` functions with no context
//! argument of their own). Only the CPU itself writes its slot: the
//! [`crate::Platform`] contract says no two contexts run on one CPU index
//! at a time, and a fire that finds its CPU already running programs (an
//! event raised by a helper's own page fault, say) is dropped and counted
//! as missed instead of nesting. So the slot and the per-CPU statistics
//! need plain loads and stores, not atomic read-modify-writes.
//!
//! The sequence number is also the read side of the grace periods in
//! [`crate::epoch`]: the store that makes it odd comes, in program order,
//! before the load of the snapshot, and the store that makes it even comes
//! after the last use of anything the snapshot points to.

use core::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*, compiler_fence,
};

use zerocopy::IntoBytes;

use crate::abi::AttachPoint;
use crate::abi::context::{Context, EventHeader};
use crate::platform::{KernelFrame, Platform};
use crate::registry::{CpuStats, Entry, ProgramRt, Snapshot};

/// The most CPUs the crate supports.
pub const MAX_CPUS: usize = 64;

/// One flag per attach point: set while a program is attached there.
pub(crate) static ARMED: [AtomicBool; AttachPoint::COUNT] =
    [const { AtomicBool::new(false) }; AttachPoint::COUNT];

/// The attached programs, by point. Null while nothing is attached.
pub(crate) static SNAPSHOT: AtomicPtr<Snapshot> = AtomicPtr::new(core::ptr::null_mut());

/// Events that found their CPU already running programs (or a context that
/// runs none), per point.
pub(crate) static MISSED: [AtomicU64; AttachPoint::COUNT] =
    [const { AtomicU64::new(0) }; AttachPoint::COUNT];

/// Time one run in `SAMPLE_MASK + 1` (a power of two); see
/// [`crate::set_timing_sample`].
pub(crate) static SAMPLE_MASK: AtomicU64 = AtomicU64::new(63);

static PLATFORM: spin::Once<&'static dyn Platform> = spin::Once::new();
pub(crate) static NCPUS: AtomicUsize = AtomicUsize::new(0);
/// What two back-to-back `now_ns` reads cost, subtracted from sampled run
/// times so `capscope ps` shows the program, not the clock.
static CLOCK_COST: AtomicU64 = AtomicU64::new(0);

/// A CPU's view of the event it is running programs for.
#[repr(align(64))]
pub(crate) struct CpuSlot {
    /// Odd while the CPU runs programs.
    pub(crate) seq: AtomicU64,
    ctx: AtomicPtr<u8>,
    frame: AtomicU64,
}

pub(crate) static CPUS: [CpuSlot; MAX_CPUS] = [const {
    CpuSlot {
        seq: AtomicU64::new(0),
        ctx: AtomicPtr::new(core::ptr::null_mut()),
        frame: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Why [`crate::init`] refused a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// A platform is installed already (the first one stays).
    AlreadyInitialized,
    /// `cpus()` is 0 or more than [`MAX_CPUS`].
    BadCpuCount(usize),
}

/// Install the kernel's platform. Call once, before the first load.
pub fn init(platform: &'static dyn Platform) -> Result<(), InitError> {
    let n = platform.cpus();
    if n == 0 || n > MAX_CPUS {
        return Err(InitError::BadCpuCount(n));
    }
    let mut fresh = false;
    PLATFORM.call_once(|| {
        fresh = true;
        NCPUS.store(n, Relaxed);
        let cost = (0..32)
            .map(|_| {
                let t0 = platform.now_ns();
                platform.now_ns().saturating_sub(t0)
            })
            .min()
            .unwrap_or(0);
        CLOCK_COST.store(cost, Relaxed);
        platform
    });
    if fresh {
        Ok(())
    } else {
        Err(InitError::AlreadyInitialized)
    }
}

/// The installed platform.
#[inline(always)]
pub(crate) fn platform() -> Option<&'static dyn Platform> {
    PLATFORM.get().copied()
}

/// The CPU count per-CPU state is sized for.
#[inline(always)]
pub(crate) fn ncpus() -> usize {
    NCPUS.load(Relaxed)
}

/// The running CPU's index, or `None` before [`init`]. A one-CPU platform
/// is not asked: its index is 0 (see [`Platform::cpu`]). `NCPUS` is set
/// only inside `init`, after the platform, so 1 implies a platform.
#[inline(always)]
pub(crate) fn this_cpu() -> Option<usize> {
    match ncpus() {
        1 => Some(0),
        _ => platform().map(|p| p.cpu()),
    }
}

/// Report an event at `point`. `make` builds the context only if a program
/// listens. Call it where the event happens, with the context type of that
/// point (`C::POINTS` must contain `point`).
#[inline(always)]
pub fn fire<C: Context>(point: AttachPoint, make: impl FnOnce() -> C) {
    if ARMED[point.index()].load(Relaxed) {
        // Programs read the context at the offsets the verifier checked
        // for this point; a context of another size would let them read
        // past it. With a constant point (every hook site) this folds.
        if core::mem::size_of::<C>() == point.context_size() {
            fire_slow(point, make().as_bytes());
        } else {
            missed(point);
        }
    }
}

/// True while a program is attached at `point`: lets a hook site skip
/// work that only a probe needs.
#[inline(always)]
pub fn is_armed(point: AttachPoint) -> bool {
    ARMED[point.index()].load(Relaxed)
}

/// Call from the timer interrupt, on any or every CPU: runs the `interval`
/// programs that are due (each period runs once, on whichever CPU ticks
/// first). Costs one branch while no interval program is attached.
#[inline(always)]
pub fn tick() {
    if ARMED[AttachPoint::Interval.index()].load(Relaxed) {
        tick_slow();
    }
}

/// Count an event at `point` that ran no programs.
#[cold]
#[inline(never)]
fn missed(point: AttachPoint) {
    MISSED[point.index()].fetch_add(1, Relaxed);
}

#[cold]
#[inline(never)]
fn fire_slow(point: AttachPoint, ctx: &[u8]) {
    run_point(point, ctx, caller_frame(), |_| true);
}

#[cold]
#[inline(never)]
fn tick_slow() {
    let Some(p) = platform() else { return };
    let now = p.now_ns();
    let header = header(p, now);
    run_point(
        AttachPoint::Interval,
        header.as_bytes(),
        caller_frame(),
        // SAFETY: entries come from the snapshot this CPU is running.
        |e| unsafe { ProgramRt::of(e) }.due(now),
    );
}

/// The header of an event the crate makes itself (BEGIN, END, interval).
pub(crate) fn header(p: &dyn Platform, now: u64) -> EventHeader {
    let (task, thread) = p.current();
    EventHeader {
        timestamp_ns: now,
        cpu: p.cpu() as u32,
        task,
        thread,
        _reserved: 0,
    }
}

/// This function's frame pointer, which (with frame pointers, as the
/// kernel is built) links to the hook site's frame.
#[inline(always)]
fn caller_frame() -> KernelFrame {
    #[cfg(target_arch = "x86_64")]
    {
        let fp: u64;
        // SAFETY: reads a register; touches no memory, stack or flags.
        unsafe {
            core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
        };
        KernelFrame(fp)
    }
    #[cfg(not(target_arch = "x86_64"))]
    KernelFrame(0)
}

/// This CPU, marked as running programs until dropped.
///
/// It holds only what the loop over programs needs across their calls (the
/// slot and the CPU index), so that the loop keeps everything in registers;
/// the platform is looked up again on the rare path that times a run.
pub(crate) struct Running {
    slot: &'static CpuSlot,
    /// The CPU index.
    pub(crate) cpu: usize,
}

impl Running {
    /// Mark this CPU as running programs for the event at `ctx`, or `None`
    /// if it already is (or the caller is no CPU that runs programs).
    #[inline(always)]
    pub(crate) fn enter(ctx: *const u8, frame: KernelFrame) -> Option<Running> {
        let cpu = this_cpu()?;
        if cpu >= ncpus() {
            return None;
        }
        let slot = CPUS.get(cpu)?;
        let seq = slot.seq.load(Relaxed);
        if seq & 1 != 0 {
            return None;
        }
        slot.seq.store(seq + 1, Relaxed);
        // Keep the compiler from moving the snapshot load above the store
        // that makes `seq` odd; `synchronize_cpus` orders them in hardware
        // (see epoch.rs).
        compiler_fence(SeqCst);
        slot.ctx.store(ctx as *mut u8, Relaxed);
        slot.frame.store(frame.0, Relaxed);
        Some(Running { slot, cpu })
    }

    /// Run the programs of `entries` that pass `filter`, counting each run
    /// and timing one in `SAMPLE_MASK + 1`.
    #[inline(always)]
    pub(crate) fn run(&self, entries: &[Entry], ctx: *const u8, filter: impl Fn(&Entry) -> bool) {
        for e in entries {
            if !filter(e) {
                continue;
            }
            // SAFETY: `stats` points at `ncpus()` statistics (sized at load,
            // and the CPU count is fixed from `init` on), `self.cpu <
            // ncpus()` (checked in `enter`), and the entry's program is
            // alive while this CPU runs (epoch.rs).
            let st = unsafe { &*e.stats.add(self.cpu) };
            // Only this CPU writes its statistics: plain load and store.
            let n = st.runs.load(Relaxed);
            st.runs.store(n + 1, Relaxed);
            if n & SAMPLE_MASK.load(Relaxed) == 0 {
                run_timed(e, st, ctx, self.cpu);
            } else {
                // SAFETY: `e.entry` is verified, compiled code (or a test's
                // native function) taking a context of this point's size
                // and the CPU index (`Code::new`); `ctx` points at one for
                // the duration of the call, and `self.cpu < ncpus()`.
                unsafe { (e.entry)(ctx, self.cpu as u64) };
            }
        }
    }
}

/// One run with the clock read around it: out of line, so the common path
/// keeps no clock state in registers across program calls.
#[cold]
#[inline(never)]
fn run_timed(e: &Entry, st: &CpuStats, ctx: *const u8, cpu: usize) {
    let Some(p) = platform() else { return };
    let t0 = p.now_ns();
    // SAFETY: as in `Running::run`, whose caller's guarantees this shares.
    unsafe { (e.entry)(ctx, cpu as u64) };
    let dt = p
        .now_ns()
        .saturating_sub(t0)
        .saturating_sub(CLOCK_COST.load(Relaxed));
    st.ns.store(st.ns.load(Relaxed).wrapping_add(dt), Relaxed);
    st.timed.store(st.timed.load(Relaxed) + 1, Relaxed);
}

impl Drop for Running {
    #[inline(always)]
    fn drop(&mut self) {
        // Release: everything the programs did with the snapshot happens
        // before a grace-period waiter sees this value. The number is odd
        // and only this CPU writes it, so one more makes it even.
        let seq = self.slot.seq.load(Relaxed);
        self.slot.seq.store(seq + 1, Release);
    }
}

/// Run the programs attached at `point` that pass `filter`.
#[inline(always)]
fn run_point(point: AttachPoint, ctx: &[u8], frame: KernelFrame, filter: impl Fn(&Entry) -> bool) {
    let Some(running) = Running::enter(ctx.as_ptr(), frame) else {
        MISSED[point.index()].fetch_add(1, Relaxed);
        return;
    };
    let snap = SNAPSHOT.load(Acquire);
    // SAFETY: a snapshot is freed only after a grace period that began after
    // it was unpublished; this CPU's `seq` is odd from before the load until
    // `running` drops, so that grace period waits for us (epoch.rs).
    if let Some(snap) = unsafe { snap.as_ref() } {
        running.run(snap.programs(point), ctx.as_ptr(), filter);
    }
}

/// The current event of this CPU, for helpers: its context pointer and
/// kernel frame. Only meaningful while the CPU runs programs.
#[inline(always)]
pub(crate) fn current_event(cpu: usize) -> (*const u8, KernelFrame) {
    match CPUS.get(cpu) {
        Some(s) => (s.ctx.load(Relaxed), KernelFrame(s.frame.load(Relaxed))),
        None => (core::ptr::null(), KernelFrame(0)),
    }
}
