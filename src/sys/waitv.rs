//! `futex_waitv(2)` (Linux 5.16+): sleep until any of up to 128 32-bit words is woken or
//! no longer holds its expected value. Used by the async waker thread (`crate::wake::hub`)
//! to wait for many rings at once.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// The kernel's limit on words per call.
pub(crate) const MAX_WORDS: usize = 128;

/// `FUTEX_32`: the word is 32 bits (the only size the kernel takes today).
const FUTEX_32: u32 = 2;

/// `struct futex_waitv` of `<linux/futex.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitvEntry {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

const _: () = assert!(std::mem::size_of::<WaitvEntry>() == 24);

impl WaitvEntry {
    /// Wait while `*word == expected`. The word may be in shared memory (no private flag:
    /// the kernel picks the key from the mapping).
    pub(crate) fn new(word: &AtomicU32, expected: u32) -> WaitvEntry {
        WaitvEntry {
            val: expected as u64,
            uaddr: word.as_ptr() as usize as u64,
            flags: FUTEX_32,
            reserved: 0,
        }
    }
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Woken (index of the word), or a word already differed, or a signal: re-check all.
    Recheck,
    /// The system call does not exist here (kernel before 5.16, or seccomp refuses it).
    Unsupported,
    /// An address could not be read (a mapping went away): re-check all.
    Fault,
}

/// Sleeps until one of `entries` is woken or differs from its value, at most `timeout`
/// (`None`: no limit).
///
/// # Safety
/// Every `uaddr` must have been a valid, aligned 32-bit word when the entries were made;
/// the kernel only reads them (a word unmapped since then gives [`Waited::Fault`]).
pub(crate) unsafe fn wait_any(entries: &[WaitvEntry], timeout: Option<Duration>) -> Waited {
    debug_assert!(!entries.is_empty() && entries.len() <= MAX_WORDS);
    // The timeout is absolute, on CLOCK_MONOTONIC.
    let deadline = timeout.map(|d| {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let nanos = now.tv_nsec as u64 + d.subsec_nanos() as u64;
        libc::timespec {
            tv_sec: now
                .tv_sec
                .saturating_add(d.as_secs().min(i32::MAX as u64) as libc::time_t)
                .saturating_add((nanos / 1_000_000_000) as libc::time_t),
            tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
        }
    });
    let tsp = deadline
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `entries` is a valid array of `len` futex_waitv structs and `tsp` null or a
    // valid timespec for the call; the kernel reads the words at their addresses itself (a
    // bad one is EFAULT, not undefined behaviour here).
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            entries.as_ptr(),
            entries.len() as libc::c_uint,
            0 as libc::c_uint,
            tsp,
            libc::CLOCK_MONOTONIC,
        )
    };
    if r >= 0 {
        return Waited::Recheck;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EINVAL) => Waited::Unsupported,
        Some(libc::EFAULT) => Waited::Fault,
        // EAGAIN (a word already differs), EINTR, ETIMEDOUT: re-check.
        _ => Waited::Recheck,
    }
}
