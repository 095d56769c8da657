//! `futex_waitv(2)` (Linux 5.16+): sleep until any of up to 128 32-bit words is woken or
//! no longer holds its expected value. Used by the async waker thread (`crate::wake::hub`)
//! to wait for many rings at once.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::io::Errno;
use rustix::thread::futex::{self, ClockId, Timespec};

/// The kernel's limit on words per call.
pub(crate) const MAX_WORDS: usize = 128;

/// `struct futex_waitv` of `<linux/futex.h>`, as rustix spells it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitvEntry(futex::Wait);

const _: () = assert!(std::mem::size_of::<WaitvEntry>() == 24);

impl WaitvEntry {
    /// Wait while `*word == expected`. The word may be in shared memory (no private flag:
    /// the kernel picks the key from the mapping).
    pub(crate) fn new(word: &AtomicU32, expected: u32) -> WaitvEntry {
        let mut w = futex::Wait::new();
        w.val = expected as u64;
        w.uaddr = futex::WaitPtr::new(word.as_ptr().cast());
        // FUTEX2_SIZE_U32 (the only size the kernel takes today), without FUTEX2_PRIVATE.
        w.flags = futex::WaitFlags::SIZE_U32;
        WaitvEntry(w)
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
/// Safe: the kernel reads the words at their addresses itself, and a word unmapped since
/// its entry was made gives [`Waited::Fault`], not undefined behaviour (rustix's `waitv` is
/// a safe function for that reason).
pub(crate) fn wait_any(entries: &[WaitvEntry], timeout: Option<Duration>) -> Waited {
    debug_assert!(!entries.is_empty() && entries.len() <= MAX_WORDS);
    // The timeout is absolute, on CLOCK_MONOTONIC.
    let deadline = timeout.map(|d| {
        let now = rustix::time::clock_gettime(ClockId::Monotonic);
        let nanos = now.tv_nsec as u64 + d.subsec_nanos() as u64;
        Timespec {
            tv_sec: now
                .tv_sec
                .saturating_add(d.as_secs().min(i32::MAX as u64) as i64)
                .saturating_add((nanos / 1_000_000_000) as i64),
            tv_nsec: (nanos % 1_000_000_000) as _,
        }
    });
    // rustix takes a slice of its own `Wait`: the entries are copied into one on the stack
    // (at most 128 × 24 bytes, beside a system call; the waker thread's loop only).
    if entries.len() > MAX_WORDS {
        // What the kernel answers (EINVAL) to more words than it takes.
        return Waited::Unsupported;
    }
    let mut waits = [futex::Wait::new(); MAX_WORDS];
    let n = entries.len();
    for (w, e) in waits.iter_mut().zip(entries) {
        *w = e.0;
    }
    match futex::waitv(
        &waits[..n],
        futex::WaitvFlags::empty(),
        deadline.as_ref(),
        ClockId::Monotonic,
    ) {
        Ok(_) => Waited::Recheck,
        Err(Errno::NOSYS) | Err(Errno::PERM) | Err(Errno::INVAL) => Waited::Unsupported,
        Err(Errno::FAULT) => Waited::Fault,
        // EAGAIN (a word already differs), EINTR, ETIMEDOUT: re-check.
        Err(_) => Waited::Recheck,
    }
}
