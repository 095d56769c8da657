//! The one place atomics, fences and the spin hint come from.
//!
//! Under the custom cfg `loom` (`RUSTFLAGS="--cfg loom"`) these are loom's, so the loom
//! models in `ring::core` and `ring::wait` run the exact code that ships. A cfg, not a
//! feature, so loom never reaches users' builds.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// One iteration of a busy-wait loop.
///
/// Deliberately *not* `core::hint::spin_loop()` on the hot poll: on this project's
/// reference machine the PAUSE instruction costs about 30 ns per round trip (see
/// README, "Measuring"). The spin phase of [`crate::ring::WaitStrategy`] calls
/// [`spin_hint`] only every few iterations for that reason.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
