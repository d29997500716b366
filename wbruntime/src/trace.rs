//! Lookup tracing for the attack suite (feature `trace`; never in production builds).
//!
//! With the feature on, every table lookup of the scalar backends records the address it
//! reads, in this thread, while a [`record_lookups`] call is running: the same information a
//! memory-trace tool (valgrind's lackey, Intel Pin) gives a white-box attacker, produced by the
//! real decryption code path. Subtract the key file buffer's address to get file offsets.

use core::cell::RefCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;

std::thread_local! {
    static TRACE: RefCell<Option<Vec<usize>>> = const { RefCell::new(None) };
}

/// Number of `record_lookups` calls running in any thread: while it is zero, a lookup costs
/// one relaxed load more than without the feature (cargo may unify the feature into other
/// test builds of the workspace).
static RECORDING: AtomicUsize = AtomicUsize::new(0);

/// Records one lookup address (called by the backends).
#[inline(always)]
pub(crate) fn record(address: usize) {
    if RECORDING.load(Ordering::Relaxed) != 0 {
        record_slow(address);
    }
}

#[inline(never)]
fn record_slow(address: usize) {
    TRACE.with(|t| {
        if let Some(v) = t.borrow_mut().as_mut() {
            v.push(address);
        }
    });
}

/// Runs `f` and returns its result with the addresses of every table lookup it made in this
/// thread, in order.
pub fn record_lookups<R>(f: impl FnOnce() -> R) -> (R, Vec<usize>) {
    TRACE.with(|t| *t.borrow_mut() = Some(Vec::new()));
    RECORDING.fetch_add(1, Ordering::SeqCst);
    let out = f();
    RECORDING.fetch_sub(1, Ordering::SeqCst);
    let trace = TRACE.with(|t| t.borrow_mut().take()).unwrap_or_default();
    (out, trace)
}
