//! Time: a TSC calibrated against the PIT at boot gives nanoseconds; the
//! PIT's periodic interrupt gives scheduler ticks.

use core::sync::atomic::{AtomicU64, Ordering};

use capscope_kernel_core::clock::NsScale;

use crate::arch::cpu::rdtsc;
use crate::dev::pit;

/// Scheduler tick frequency.
pub const TICK_HZ: u64 = 1000;

static TSC_HZ: AtomicU64 = AtomicU64::new(1);
/// `NsScale::new(TSC_HZ)`, raw: every probe header reads the clock, so the
/// conversion is a multiply and a shift, not a 128-bit division.
static NS_SCALE: AtomicU64 = AtomicU64::new(NsScale::new(1).raw());
static TSC_BOOT: AtomicU64 = AtomicU64::new(0);

/// Calibrate the TSC and start the periodic tick.
pub fn init() {
    TSC_BOOT.store(rdtsc(), Ordering::Relaxed);
    let hz = pit::calibrate_tsc(10).max(1);
    TSC_HZ.store(hz, Ordering::Relaxed);
    NS_SCALE.store(NsScale::new(hz).raw(), Ordering::Relaxed);
    pit::start_periodic(TICK_HZ);
}

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    let dt = rdtsc().wrapping_sub(TSC_BOOT.load(Ordering::Relaxed));
    NsScale::from_raw(NS_SCALE.load(Ordering::Relaxed)).ns(dt)
}

/// TSC ticks per second.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}
