//! The user-level fault-handler chain.
//!
//! This is the registration API the Akaros discussion asks for: handlers
//! are kept in order, `register(handler, insert_tail)` puts one at the head
//! (first dibs) or the tail, and a fault is offered to each in turn until
//! one says it fixed the fault or that the thread must fail. The user
//! runtime instantiates it with function pointers; the logic is here so it
//! is tested on the host.
//!
//! The chain is a fixed array (no allocation: it runs inside a fault
//! upcall), so registration can fail with [`ChainError::Full`].

/// What a handler says about a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStatus {
    /// Not mine: offer the fault to the next handler.
    Continue,
    /// Fixed (the handler adjusted the context): resume the thread.
    Fixed,
    /// Fatal: stop asking, the thread dies.
    Fail,
}

/// Why a registration change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// All slots are in use.
    Full,
    /// The handler is already registered.
    Duplicate,
    /// The handler is not registered.
    NotFound,
}

/// The outcome of offering a fault to the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A handler fixed it.
    Fixed,
    /// A handler declared it fatal.
    Failed,
    /// Every handler said continue (or there were none): fatal as well.
    Unhandled,
}

/// An ordered chain of at most `N` handlers.
#[derive(Clone, Copy, Debug)]
pub struct HandlerChain<H: Copy + PartialEq, const N: usize> {
    handlers: [Option<H>; N],
    len: usize,
}

impl<H: Copy + PartialEq, const N: usize> Default for HandlerChain<H, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Copy + PartialEq, const N: usize> HandlerChain<H, N> {
    /// An empty chain.
    pub const fn new() -> Self {
        HandlerChain {
            handlers: [None; N],
            len: 0,
        }
    }

    /// Number of registered handlers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Register `h` at the tail (`insert_tail`) or the head.
    pub fn register(&mut self, h: H, insert_tail: bool) -> Result<(), ChainError> {
        if self.iter().any(|x| x == h) {
            return Err(ChainError::Duplicate);
        }
        if self.len == N {
            return Err(ChainError::Full);
        }
        if insert_tail {
            self.handlers[self.len] = Some(h);
        } else {
            self.handlers.copy_within(0..self.len, 1);
            self.handlers[0] = Some(h);
        }
        self.len += 1;
        Ok(())
    }

    /// Remove `h`, keeping the order of the others.
    pub fn unregister(&mut self, h: H) -> Result<(), ChainError> {
        let i = self
            .iter()
            .position(|x| x == h)
            .ok_or(ChainError::NotFound)?;
        self.handlers.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.handlers[self.len] = None;
        Ok(())
    }

    /// The handlers, head first.
    pub fn iter(&self) -> impl Iterator<Item = H> + '_ {
        self.handlers[..self.len].iter().map(|h| h.expect("dense"))
    }

    /// Offer a fault to each handler, head first, via `call`.
    pub fn dispatch(&self, mut call: impl FnMut(H) -> FaultStatus) -> Resolution {
        for h in self.iter() {
            match call(h) {
                FaultStatus::Continue => continue,
                FaultStatus::Fixed => return Resolution::Fixed,
                FaultStatus::Fail => return Resolution::Failed,
            }
        }
        Resolution::Unhandled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn head_and_tail_insertion_order() {
        let mut c: HandlerChain<u8, 4> = HandlerChain::new();
        c.register(1, true).unwrap();
        c.register(2, true).unwrap();
        c.register(0, false).unwrap();
        assert_eq!(c.iter().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(c.register(1, true), Err(ChainError::Duplicate));
        c.register(3, false).unwrap();
        assert_eq!(c.register(9, true), Err(ChainError::Full));
        c.unregister(0).unwrap();
        assert_eq!(c.iter().collect::<Vec<_>>(), [3, 1, 2]);
        assert_eq!(c.unregister(0), Err(ChainError::NotFound));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn dispatch_stops_at_the_first_verdict() {
        let mut c: HandlerChain<u8, 4> = HandlerChain::new();
        assert_eq!(c.dispatch(|_| FaultStatus::Fixed), Resolution::Unhandled);
        for h in [1, 2, 3] {
            c.register(h, true).unwrap();
        }
        let mut seen = Vec::new();
        let r = c.dispatch(|h| {
            seen.push(h);
            if h == 2 {
                FaultStatus::Fixed
            } else {
                FaultStatus::Continue
            }
        });
        assert_eq!((r, seen.as_slice()), (Resolution::Fixed, &[1, 2][..]));
        let r = c.dispatch(|h| {
            if h == 1 {
                FaultStatus::Fail
            } else {
                FaultStatus::Fixed
            }
        });
        assert_eq!(r, Resolution::Failed);
        assert_eq!(c.dispatch(|_| FaultStatus::Continue), Resolution::Unhandled);
    }
}
