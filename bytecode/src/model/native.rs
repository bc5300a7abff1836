//! Native entry points for JIT-compiled code: one `extern "C"` function per
//! helper, with the [`HelperFn`] signature, acting on the "current"
//! [`ModelEnv`] of this thread.
//!
//! ```
//! use capscope_bytecode::abi::helpers::id;
//! use capscope_bytecode::model::{EventState, ModelEnv, native};
//!
//! let mut env = ModelEnv::new(&[], EventState::default());
//! let _g = env.enter(); // this thread's helpers now act on `env`
//! let f = native::helper_fn(id::GET_CURRENT_PID_TGID).unwrap(); // what the JIT calls
//! // SAFETY: this helper takes no pointer arguments.
//! assert_eq!(unsafe { f(0, 0, 0, 0, 0) }, 1 << 32 | 1);
//! ```
//!
//! The shims call the same dispatch the interpreter's [`Env::call`](crate::interp::Env::call)
//! does, so both engines share one implementation. A shim called with no
//! environment entered, or with arguments the model rejects (which a
//! verified program cannot produce), returns null for lookups and `-EINVAL`
//! for everything else: unwinding out of an `extern "C"` function would
//! abort the process.
#![allow(unsafe_code)]

use core::cell::Cell;
use core::marker::PhantomData;
use core::ptr;

use super::ModelEnv;
use crate::abi::consts::errno;
use crate::abi::helpers::{self, HelperFn, Ret, id};
use crate::insn::HelperId;

std::thread_local! {
    static CURRENT: Cell<*mut ModelEnv> = const { Cell::new(ptr::null_mut()) };
}

/// While alive, native helpers on this thread act on the environment it
/// borrows. Dropping it restores the previously entered one, so guards nest.
pub struct EnvGuard<'a> {
    prev: *mut ModelEnv,
    // Holds the exclusive borrow, so nothing else touches the environment
    // while native code may; also makes the guard !Send (it restores a
    // thread-local).
    _env: PhantomData<&'a mut ModelEnv>,
    _not_send: PhantomData<*mut ()>,
}

impl ModelEnv {
    /// Make this the environment native helpers on this thread act on,
    /// until the guard is dropped.
    pub fn enter(&mut self) -> EnvGuard<'_> {
        // During thread teardown there is no slot: nothing is entered, and
        // the shims answer as if no environment were.
        let me = self as *mut ModelEnv;
        let prev = CURRENT
            .try_with(|c| c.replace(me))
            .unwrap_or(ptr::null_mut());
        EnvGuard {
            prev,
            _env: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl Drop for EnvGuard<'_> {
    fn drop(&mut self) {
        // If the slot is already gone (thread teardown), nothing can use it.
        let _ = CURRENT.try_with(|c| c.set(self.prev));
    }
}

/// Run helper `h` on the current environment; the fallback value if there
/// is none or it refuses.
///
/// # Safety
/// Pointer arguments must be valid as the helper table declares.
unsafe fn call_current(h: HelperId, args: [u64; 5]) -> u64 {
    // `try_with`: during thread teardown the slot may be gone; that is
    // "no environment", not a panic.
    let env = CURRENT.try_with(Cell::get).unwrap_or(ptr::null_mut());
    let fallback = match helpers::find(h).map(|d| d.ret) {
        Some(Ret::MapValueOrNull) => 0,
        _ => (errno::EINVAL as i64).wrapping_neg() as u64,
    };
    if env.is_null() {
        return fallback;
    }
    // SAFETY: `env` was set by `enter` from a `&mut ModelEnv` whose borrow
    // the live `EnvGuard` holds, so it is valid and no other reference to it
    // is in use while native code runs on this thread. Helpers never
    // re-enter native code, so this `&mut` is the only one.
    let env = unsafe { &mut *env };
    // SAFETY: forwarded from our caller.
    unsafe { env.dispatch(h, args) }.unwrap_or(fallback)
}

macro_rules! shims {
    ($($name:ident = $id:expr;)*) => {
        $(
            /// Native shim for the helper of the same name (see the module docs).
            ///
            /// # Safety
            /// Pointer arguments must be valid as the helper table declares;
            /// the verifier guarantees it for the code the JIT emits.
            pub unsafe extern "C" fn $name(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> u64 {
                // SAFETY: forwarded from our caller.
                unsafe { call_current($id, [a1, a2, a3, a4, a5]) }
            }
        )*

        /// The native function implementing helper `id`, for the JIT to call
        /// by address; `None` for unknown helpers.
        pub fn helper_fn(h: HelperId) -> Option<HelperFn> {
            $(if h == $id { return Some($name as HelperFn); })*
            None
        }
    };
}

shims! {
    map_lookup_elem = id::MAP_LOOKUP_ELEM;
    map_update_elem = id::MAP_UPDATE_ELEM;
    map_delete_elem = id::MAP_DELETE_ELEM;
    ktime_get_ns = id::KTIME_GET_NS;
    get_smp_processor_id = id::GET_SMP_PROCESSOR_ID;
    get_current_pid_tgid = id::GET_CURRENT_PID_TGID;
    get_current_comm = id::GET_CURRENT_COMM;
    get_stackid = id::GET_STACKID;
    probe_read_user = id::PROBE_READ_USER;
    probe_read_kernel = id::PROBE_READ_KERNEL;
    ringbuf_output = id::RINGBUF_OUTPUT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_helper_has_a_shim() {
        for h in helpers::HELPERS {
            assert!(helper_fn(h.id).is_some(), "{}", h.name);
        }
        assert!(helper_fn(HelperId(4)).is_none());
    }
}
