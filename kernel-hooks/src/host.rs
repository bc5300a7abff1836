//! [`HostPlatform`]: the crate on an ordinary OS, for tests, benchmarks and
//! `capscope exec`.
//!
//! Threads play CPUs. A thread gets a CPU index the first time it asks and
//! keeps it until it exits, and no two live threads share one, which is the
//! exclusivity the [`Platform`] contract demands; a thread that finds every
//! index taken runs no programs (its events count as missed).
//! `synchronize_cpus` is Linux's `membarrier` (private expedited), the
//! system call the grace-period argument was designed around. User memory
//! is simulated: tests map byte buffers at chosen user addresses, and
//! `read_user` copies from them or fails, exactly like a fault-safe copy.
//! The current task, its name and its stacks are per-thread settings.

use std::cell::{Cell, RefCell};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::platform::{COMM_LEN, Fault, KernelFrame, Platform};
use crate::tsc::{TscClock, rdtsc};

/// The host platform. There is one per process: [`HostPlatform::install`].
pub struct HostPlatform {
    cpus: usize,
    clock: TscClock,
    user: RwLock<Vec<(u64, Vec<u8>)>>,
    kernel: RwLock<Vec<(u64, u64)>>,
    membarrier: i64,
}

/// CPU indices in use by live threads.
static TAKEN: Mutex<Vec<bool>> = Mutex::new(Vec::new());
static INSTANCE: OnceLock<&'static HostPlatform> = OnceLock::new();

const NO_CPU: usize = usize::MAX;

/// A thread's CPU index, given back when the thread exits.
struct Lease(Cell<usize>);

impl Drop for Lease {
    fn drop(&mut self) {
        let id = self.0.get();
        // From here on this thread runs no programs (its index may go to
        // another thread at once).
        let _ = CPU_ID.try_with(|c| c.set(NO_CPU));
        if id != NO_CPU
            && let Ok(mut t) = TAKEN.lock()
        {
            t[id] = false;
        }
    }
}

#[derive(Default)]
struct ThreadState {
    task: u32,
    thread: u32,
    comm: [u8; COMM_LEN],
    user_stack: Vec<u64>,
    kernel_stack: Vec<u64>,
}

thread_local! {
    /// The fast path: a plain thread-local without a destructor, one load.
    static CPU_ID: Cell<usize> = const { Cell::new(NO_CPU) };
    /// Gives the index back when the thread exits.
    static LEASE: Lease = const { Lease(Cell::new(NO_CPU)) };
    static STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

const MEMBARRIER_CMD_GLOBAL: i64 = 1;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: i64 = 8;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: i64 = 16;

fn membarrier(cmd: i64) -> i64 {
    // SAFETY: `membarrier` takes plain integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) as i64 }
}

impl HostPlatform {
    /// Install a host platform with `cpus` CPUs as the crate's platform
    /// (once per process; later calls return the first one, whatever their
    /// `cpus`). Calibrates the TSC against the OS clock (a few ms).
    pub fn install(cpus: usize) -> &'static HostPlatform {
        INSTANCE.get_or_init(|| {
            let cpus = cpus.clamp(1, crate::MAX_CPUS);
            let membarrier = if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 {
                MEMBARRIER_CMD_PRIVATE_EXPEDITED
            } else {
                MEMBARRIER_CMD_GLOBAL
            };
            let start = Instant::now();
            let tsc0 = rdtsc();
            std::thread::sleep(Duration::from_millis(5));
            let (tsc1, ns1) = (rdtsc(), start.elapsed().as_nanos() as u64);
            let clock = TscClock::calibrate(tsc0, 0, tsc1, ns1).unwrap_or_else(|| {
                TscClock::from_hz(1_000_000_000, tsc0, 0).expect("1 GHz is valid")
            });
            *TAKEN.lock().unwrap_or_else(|e| e.into_inner()) = vec![false; cpus];
            let p: &'static HostPlatform = Box::leak(Box::new(HostPlatform {
                cpus,
                clock,
                user: RwLock::new(Vec::new()),
                kernel: RwLock::new(Vec::new()),
                membarrier,
            }));
            // Another platform may be installed already (a test that brought
            // its own); then this one only serves its direct callers.
            let _ = crate::init(p);
            p
        })
    }

    /// Set this thread's task, thread and task name.
    pub fn set_current(task: u32, thread: u32, comm: &str) {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.task = task;
            s.thread = thread;
            s.comm = [0; COMM_LEN];
            let n = comm.len().min(COMM_LEN - 1);
            s.comm[..n].copy_from_slice(&comm.as_bytes()[..n]);
        });
    }

    /// Set the return addresses this thread's user and kernel stack walks
    /// report, innermost first.
    pub fn set_stacks(user: &[u64], kernel: &[u64]) {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.user_stack = user.to_vec();
            s.kernel_stack = kernel.to_vec();
        });
    }

    /// Map `bytes` at user address `addr` (replacing any mapping there).
    pub fn map_user(&self, addr: u64, bytes: Vec<u8>) {
        let mut u = self.user.write().unwrap_or_else(|e| e.into_inner());
        u.retain(|(a, _)| *a != addr);
        u.push((addr, bytes));
    }

    /// Remove every user mapping.
    pub fn unmap_user(&self) {
        self.user.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Let `probe_read_kernel` read `bytes` (which live for ever).
    pub fn allow_kernel_read(&self, bytes: &'static [u8]) {
        self.kernel
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((bytes.as_ptr() as u64, bytes.len() as u64));
    }

    /// The calibrated clock.
    pub fn clock(&self) -> TscClock {
        self.clock
    }

    #[cold]
    fn first_cpu() -> usize {
        // During thread teardown the lease is gone: run no programs.
        LEASE
            .try_with(|l| {
                let id = Self::lease();
                l.0.set(id);
                CPU_ID.with(|c| c.set(id));
                id
            })
            .unwrap_or(NO_CPU)
    }

    fn lease() -> usize {
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        match taken.iter().position(|t| !t) {
            Some(i) => {
                taken[i] = true;
                i
            }
            None => NO_CPU,
        }
    }
}

impl Platform for HostPlatform {
    fn now_ns(&self) -> u64 {
        self.clock.now()
    }

    #[inline]
    fn cpu(&self) -> usize {
        let id = CPU_ID.with(Cell::get);
        if id != NO_CPU { id } else { Self::first_cpu() }
    }

    fn cpus(&self) -> usize {
        self.cpus
    }

    fn current(&self) -> (u32, u32) {
        STATE
            .try_with(|s| {
                let s = s.borrow();
                (s.task, s.thread)
            })
            .unwrap_or((0, 0))
    }

    fn comm(&self, buf: &mut [u8; COMM_LEN]) {
        *buf = STATE.try_with(|s| s.borrow().comm).unwrap_or([0; COMM_LEN]);
    }

    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        let u = self.user.read().map_err(|_| Fault)?;
        for (base, bytes) in u.iter() {
            if let Some(off) = addr.checked_sub(*base)
                && let Some(src) = (off as usize)
                    .checked_add(buf.len())
                    .and_then(|end| bytes.get(off as usize..end))
            {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        Err(Fault)
    }

    fn kernel_readable(&self, addr: u64, len: usize) -> bool {
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        self.kernel
            .read()
            .map(|k| k.iter().any(|&(a, n)| addr >= a && end <= a + n))
            .unwrap_or(false)
    }

    fn walk_user_stack(&self, out: &mut [u64]) -> usize {
        STATE
            .try_with(|s| copy_frames(&s.borrow().user_stack, out))
            .unwrap_or(0)
    }

    fn walk_kernel_stack(&self, _from: KernelFrame, out: &mut [u64]) -> usize {
        // Host code is not built with frame pointers, so a real walk would
        // be garbage; tests set the frames they expect.
        STATE
            .try_with(|s| copy_frames(&s.borrow().kernel_stack, out))
            .unwrap_or(0)
    }

    fn synchronize_cpus(&self) {
        let r = membarrier(self.membarrier);
        // Without a working membarrier the grace-period argument fails;
        // a test host that lacks it must not pretend otherwise.
        assert!(
            r == 0,
            "membarrier failed: the host kernel must support it (Linux 4.14+)"
        );
    }
}

fn copy_frames(from: &[u64], out: &mut [u64]) -> usize {
    let n = from.len().min(out.len());
    out[..n].copy_from_slice(&from[..n]);
    n
}
