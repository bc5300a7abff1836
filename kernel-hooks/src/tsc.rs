//! Time from the TSC: a fixed-point conversion a kernel calibrates once.
//!
//! `ktime_get_ns` must be cheap (it is on the fire path of every latency
//! probe) and monotonic. An invariant TSC read with `rdtsc` is both; it
//! only needs converting to nanoseconds. [`TscClock`] does that with one
//! 64×64→128-bit multiply and a shift, after the kernel calibrates it
//! against a reference (the PIT, the HPET, or on the host the OS clock).

/// Converts TSC ticks to nanoseconds since a base point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscClock {
    /// Nanoseconds per tick, as a 32.32 fixed-point number.
    mult: u64,
    base_tsc: u64,
    base_ns: u64,
}

impl TscClock {
    /// A clock for a TSC of `hz` ticks per second, reading `base_ns` at
    /// tick `base_tsc`. `None` for a frequency below 1 kHz.
    pub fn from_hz(hz: u64, base_tsc: u64, base_ns: u64) -> Option<TscClock> {
        if hz < 1000 {
            return None;
        }
        let mult = ((1_000_000_000u128 << 32) / hz as u128) as u64;
        Some(TscClock {
            mult,
            base_tsc,
            base_ns,
        })
    }

    /// Calibrate from two readings of the TSC and a reference clock (in
    /// ns) taken at the same moments. `None` if they do not advance.
    pub fn calibrate(tsc0: u64, ns0: u64, tsc1: u64, ns1: u64) -> Option<TscClock> {
        let (dt, dn) = (tsc1.checked_sub(tsc0)?, ns1.checked_sub(ns0)?);
        if dt == 0 || dn == 0 {
            return None;
        }
        let hz = (dt as u128 * 1_000_000_000 / dn as u128) as u64;
        TscClock::from_hz(hz, tsc0, ns0)
    }

    /// The TSC frequency this clock assumes, in Hz.
    pub fn hz(&self) -> u64 {
        ((1_000_000_000u128 << 32) / self.mult.max(1) as u128) as u64
    }

    /// Nanoseconds at TSC value `tsc` (never before the base).
    #[inline(always)]
    pub fn ns(&self, tsc: u64) -> u64 {
        let d = tsc.saturating_sub(self.base_tsc);
        self.base_ns + ((d as u128 * self.mult as u128) >> 32) as u64
    }

    /// Nanoseconds now.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        self.ns(rdtsc())
    }
}

/// Read the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` only reads a counter; every x86-64 CPU has it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_at_the_calibrated_rate() {
        let c = TscClock::calibrate(1_000, 50, 3_000_001_000, 1_000_000_050).unwrap();
        assert_eq!(c.ns(1_000), 50);
        assert!((c.ns(3_000_001_000) as i64 - 1_000_000_050).abs() <= 1);
        assert!((c.hz() as i64 - 3_000_000_000).abs() < 10);
        // Hours of ticks do not overflow.
        assert!(c.ns(u64::MAX / 2) > 1_000_000_000_000_000);
        assert_eq!(c.ns(0), 50);
        assert!(TscClock::calibrate(5, 5, 5, 9).is_none());
        assert!(TscClock::from_hz(10, 0, 0).is_none());
    }
}
