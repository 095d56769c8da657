//! Wait on / wake a 32-bit word in shared memory.
//!
//! Linux: the futex system call, the *shared* kind (no `FUTEX_PRIVATE_FLAG`: the word is
//! mapped by several processes, and a private futex only matches waiters of one process).
//! Elsewhere: a bounded sleep, so waiting stays correct (callers re-check their condition)
//! at the cost of latency; see README "Platforms".

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, at most `timeout` (None = until woken).
/// Returns on wake, timeout, signal, or when the word already differs: callers re-check.
/// `true` if it ended because of a change to the word (a `FUTEX_WAKE`, or the word already
/// differed), `false` on a timeout or a signal: a waiter can then tell a peer's wake-up
/// from a slice end without touching the word.
#[cfg(target_os = "linux")]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned 32-bit word for the call's duration; FUTEX_WAIT only
    // reads it. The errors it can return are all "re-check and go on":
    // EAGAIN (value already differs), EINTR (signal), ETIMEDOUT; EFAULT/EINVAL cannot happen
    // for a valid aligned address and a normalised timespec.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tsp,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// Wakes every waiter on `word`.
#[cfg(target_os = "linux")]
pub(crate) fn wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid aligned word; FUTEX_WAKE does not touch memory. Its only
    // failure for a valid address is EINVAL on a misaligned word, which cannot happen.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<u32>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Sleeps a short while (no futex on this platform); callers re-check their condition.
#[cfg(not(target_os = "linux"))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    use std::sync::atomic::Ordering;
    if word.load(Ordering::Acquire) == expected {
        std::thread::sleep(
            timeout
                .unwrap_or(Duration::from_millis(1))
                .min(Duration::from_micros(200)),
        );
    }
    false
}

/// No-op where waiters poll (see [`wait`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn wake_all(_word: &AtomicU32) {}
