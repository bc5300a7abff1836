//! The kernel's one error type. Every variant is an `E*` code of the probe
//! ABI, so what a syscall returns and what `cap:invoke` reports agree.

use capscope_bytecode::abi::consts::errno;

/// Why a kernel operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Missing rights (`EPERM`).
    Perm,
    /// Empty slot or unknown entry (`ENOENT`).
    NoEnt,
    /// Bad user address (`EFAULT`).
    Fault,
    /// Slot or resource occupied (`EBUSY`).
    Busy,
    /// Already exists (`EEXIST`).
    Exist,
    /// Invalid argument (`EINVAL`).
    Inval,
    /// Quota exhausted (`ENOSPC`).
    NoSpc,
    /// Out of memory (`ENOMEM`).
    NoMem,
    /// Buffer too big (`E2BIG`).
    TooBig,
    /// No such system call (`ENOSYS`).
    NoSys,
    /// Gate label mismatch (`EPROTO`).
    Proto,
    /// Wrong object kind (`EBADF`).
    BadKind,
    /// Slot index out of range (`ERANGE`).
    Range,
    /// Nobody serves the gate (`ENOTCONN`).
    NotConn,
}

/// Result of a kernel operation.
pub type KResult<T> = Result<T, Error>;

impl Error {
    /// The positive ABI error code.
    pub const fn errno(self) -> u64 {
        match self {
            Error::Perm => errno::EPERM,
            Error::NoEnt => errno::ENOENT,
            Error::Fault => errno::EFAULT,
            Error::Busy => errno::EBUSY,
            Error::Exist => errno::EEXIST,
            Error::Inval => errno::EINVAL,
            Error::NoSpc => errno::ENOSPC,
            Error::NoMem => errno::ENOMEM,
            Error::TooBig => errno::E2BIG,
            Error::NoSys => errno::ENOSYS,
            Error::Proto => errno::EPROTO,
            Error::BadKind => errno::EBADF,
            Error::Range => errno::ERANGE,
            Error::NotConn => errno::ENOTCONN,
        }
    }

    /// The value a syscall puts in `rax`: the negated code.
    pub const fn to_ret(self) -> i64 {
        -(self.errno() as i64)
    }

    /// Every variant, for tests and tables.
    pub const ALL: [Error; 14] = [
        Error::Perm,
        Error::NoEnt,
        Error::Fault,
        Error::Busy,
        Error::Exist,
        Error::Inval,
        Error::NoSpc,
        Error::NoMem,
        Error::TooBig,
        Error::NoSys,
        Error::Proto,
        Error::BadKind,
        Error::Range,
        Error::NotConn,
    ];

    /// The error whose negated code is `ret`, if any (user side decoding).
    pub fn from_ret(ret: i64) -> Option<Error> {
        Self::ALL.into_iter().find(|e| e.to_ret() == ret)
    }
}

/// Turn a syscall result into the `rax` value.
pub fn ret_of(r: KResult<u64>) -> i64 {
    match r {
        // Results are small (lengths, statuses, nanoseconds < 2^63).
        Ok(v) => v as i64,
        Err(e) => e.to_ret(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for (i, a) in Error::ALL.iter().enumerate() {
            assert_eq!(Error::from_ret(a.to_ret()), Some(*a));
            for b in &Error::ALL[i + 1..] {
                assert_ne!(a.errno(), b.errno());
            }
        }
        assert_eq!(Error::Proto.errno(), 71);
        assert_eq!(Error::from_ret(0), None);
    }
}
