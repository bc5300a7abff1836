//! Cycle counter to nanoseconds without a division on the read path.
//!
//! Every probe event reads the clock for its header, so `now_ns` sits on
//! the fire path. Dividing by the counter frequency there means a 128-bit
//! division (`__udivti3`, a long software routine on x86-64); Linux's
//! clocksources avoid it the same way: a fixed-point factor computed once
//! at calibration, then one multiply and one shift per read.
//!
//! `capscope_kernel_hooks::tsc::TscClock` does the same conversion for
//! kernels adopting the hooks crate. The reference kernel cannot use it:
//! its clock is needed in the build without hooks too (the baseline of the
//! hook-cost measurement), where the hooks crate, and Cranelift with it,
//! is not a dependency at all.

/// Fraction bits of [`NsScale`]'s factor.
const SHIFT: u32 = 32;

/// Nanoseconds per counter tick, as a 32.32 fixed-point factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsScale(u64);

impl NsScale {
    /// The factor for a counter running at `hz` ticks per second (at
    /// least 1: a zero frequency is treated as 1).
    pub const fn new(hz: u64) -> NsScale {
        let hz = if hz == 0 { 1 } else { hz };
        let mult = (1_000_000_000u128 << SHIFT) / hz as u128;
        // 1e9 << 32 < 2^62, so the quotient fits in 64 bits for any hz >= 1.
        NsScale(mult as u64)
    }

    /// The raw factor, for storing in an atomic.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// A factor stored with [`NsScale::raw`].
    pub const fn from_raw(raw: u64) -> NsScale {
        NsScale(raw)
    }

    /// `ticks` converted to nanoseconds, rounded down, saturating at
    /// `u64::MAX`. The factor's truncation costs less than one nanosecond
    /// per 2^32 ticks (1.7 s at 2.6 GHz).
    #[inline(always)]
    pub const fn ns(self, ticks: u64) -> u64 {
        let ns = (ticks as u128 * self.0 as u128) >> SHIFT;
        if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact conversion the factor replaces.
    fn exact(ticks: u64, hz: u64) -> u128 {
        ticks as u128 * 1_000_000_000 / hz as u128
    }

    #[test]
    fn matches_the_division_within_a_nanosecond_per_2_pow_32_ticks() {
        for hz in [
            1,
            3,
            999,
            1_000_000,
            999_999_937,
            1_000_000_000,
            2_600_000_000,
            5_000_000_000,
        ] {
            let s = NsScale::new(hz);
            for ticks in [
                0,
                1,
                7,
                hz - 1,
                hz,
                hz * 3 + 1,
                1 << 40,
                u64::MAX / 1_000_000,
            ] {
                let want = exact(ticks, hz).min(u64::MAX as u128);
                let got = s.ns(ticks) as u128;
                let slack = ticks as u128 / (1u128 << 32) + 1;
                assert!(
                    got <= want && want - got <= slack,
                    "hz {hz} ticks {ticks}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn one_second_of_ticks_is_one_second() {
        for hz in [1_000_000, 2_600_000_000, 3_000_000_000] {
            let ns = NsScale::new(hz).ns(hz);
            assert!((999_999_999..=1_000_000_000).contains(&ns), "{hz}: {ns}");
        }
    }

    #[test]
    fn no_overflow_or_division_by_zero() {
        assert_eq!(NsScale::new(0), NsScale::new(1));
        assert_eq!(NsScale::new(1).ns(u64::MAX), u64::MAX, "saturates");
        let s = NsScale::new(2_600_000_000);
        assert_eq!(NsScale::from_raw(s.raw()), s);
    }
}
