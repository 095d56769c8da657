//! Asymmetric memory barriers: `membarrier(2)` with `MEMBARRIER_CMD_GLOBAL_EXPEDITED`.
//!
//! The ring's wake protocol is a Dekker pattern: the publishing side does "store record,
//! then read `waiters`", the sleeping side does "`waiters += 1`, then re-read records", and
//! each needs a full barrier between its two steps. The publishing side runs on every
//! message; the sleeping side runs only when it is about to sleep in the kernel anyway.
//! With membarrier, the publishing side needs only a compiler barrier, and the sleeping
//! side issues the heavy barrier for both: `membarrier(GLOBAL_EXPEDITED)` makes every
//! thread of every process registered with `REGISTER_GLOBAL_EXPEDITED` execute a full
//! barrier (or be between two context switches, which are full barriers). This is the
//! pattern the membarrier(2) manual page describes.
//!
//! A process that could not register keeps using full fences on its publishing side.

use std::sync::OnceLock;

#[cfg(target_os = "linux")]
const CMD_GLOBAL_EXPEDITED: libc::c_long = 1 << 1;
#[cfg(target_os = "linux")]
const CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_long = 1 << 2;

static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers this process for global expedited membarriers (once per process). True if
/// it is registered: then this process's publishing sides may skip their CPU fence.
pub(crate) fn register() -> bool {
    *REGISTERED.get_or_init(|| {
        if std::env::var_os("SHMRING_NO_MEMBARRIER").is_some() {
            return false;
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: membarrier takes no pointers; failure is reported by the return value.
            unsafe { libc::syscall(libc::SYS_membarrier, CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    })
}

/// True if [`register`] succeeded in this process.
#[inline(always)]
pub(crate) fn registered() -> bool {
    matches!(REGISTERED.get(), Some(true))
}

/// The heavy side: a full barrier on every CPU running a registered process. False if the
/// kernel refused (then the caller must not rely on it: it sleeps in short slices).
pub(crate) fn global() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as in `register`.
        unsafe { libc::syscall(libc::SYS_membarrier, CMD_GLOBAL_EXPEDITED, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}
