//! Wait on / wake a 32-bit word in shared memory: the one small trait every blocking
//! primitive of the crate (ring, seqlock, broadcast, the async waker) sleeps through, with
//! one file per platform.
//!
//! | platform | wait | wake | file |
//! |---|---|---|---|
//! | Linux | `futex(FUTEX_WAIT)`, shared (no `FUTEX_PRIVATE_FLAG`) | `FUTEX_WAKE` | `futex/linux.rs` |
//! | FreeBSD | `_umtx_op(UMTX_OP_WAIT_UINT)`, shared (not `_PRIVATE`) | `UMTX_OP_WAKE` | `futex/freebsd.rs` |
//! | macOS 14.4+ | `os_sync_wait_on_address` with `OS_SYNC_WAIT_ON_ADDRESS_SHARED` | `os_sync_wake_by_address_all` | `futex/macos.rs` |
//! | macOS before 14.4 | `__ulock_wait(UL_COMPARE_AND_WAIT_SHARED)` (the call the above wraps) | `__ulock_wake` | `futex/macos.rs` |
//!
//! Every one of them is the *shared* kind: the word is mapped by several processes (at
//! different addresses), and a private wait only matches waiters of one process. Only Linux
//! runs in our tests; the others are compile-checked (`.ci/steps/25-cross.sh`).
//! Other targets do not build (see the `compile_error!` in `lib.rs`).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

#[cfg(target_os = "freebsd")]
#[path = "futex/freebsd.rs"]
mod platform;
#[cfg(target_os = "linux")]
#[path = "futex/linux.rs"]
mod platform;
#[cfg(target_os = "macos")]
#[path = "futex/macos.rs"]
mod platform;

/// Sleep on a shared 32-bit word and wake its sleepers: what each platform file implements
/// (for [`platform::Futex`]).
pub(crate) trait WaitWake {
    /// Sleeps while `*word == expected`, at most `timeout` (None = until woken).
    /// Returns on wake, timeout, signal, or when the word already differs: callers
    /// re-check their condition, so a spurious return is harmless; a missed wake is not
    /// (the kernel compares the word and queues the sleeper atomically).
    ///
    /// `true` only when the platform says for sure that a wake or a changed word ended the
    /// sleep; `false` on a timeout, a signal, or when it cannot tell. A waiter then runs its
    /// slice-end checks before it touches the shared memory again (see `crate::wake`).
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool;

    /// Wakes every sleeper on `word`, in any process.
    fn wake_all(word: &AtomicU32);
}

/// Sleeps while `*word == expected`, at most `timeout` (None = until woken).
/// Returns on wake, timeout, signal, or when the word already differs: callers re-check.
/// `true` if a wake-up (or a changed word) surely ended it: see [`WaitWake::wait`].
#[inline]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    <platform::Futex as WaitWake>::wait(word, expected, timeout)
}

/// Wakes every waiter on `word`.
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) {
    <platform::Futex as WaitWake>::wake_all(word)
}
