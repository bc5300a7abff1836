//! Time: a TSC calibrated against the PIT at boot gives nanoseconds; the
//! PIT's periodic interrupt gives scheduler ticks.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::cpu::rdtsc;
use crate::dev::pit;

/// Scheduler tick frequency.
pub const TICK_HZ: u64 = 1000;

static TSC_HZ: AtomicU64 = AtomicU64::new(1);
static TSC_BOOT: AtomicU64 = AtomicU64::new(0);

/// Calibrate the TSC and start the periodic tick.
pub fn init() {
    TSC_BOOT.store(rdtsc(), Ordering::Relaxed);
    TSC_HZ.store(pit::calibrate_tsc(10).max(1), Ordering::Relaxed);
    pit::start_periodic(TICK_HZ);
}

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    let dt = rdtsc().wrapping_sub(TSC_BOOT.load(Ordering::Relaxed)) as u128;
    (dt * 1_000_000_000 / TSC_HZ.load(Ordering::Relaxed) as u128) as u64
}

/// TSC ticks per second.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}
