//! A tokio task sleeping on a shared futex word with no thread of its own: the wait is an
//! `IORING_OP_FUTEX_WAIT` request (Linux 6.7+) on a small io_uring whose descriptor the
//! runtime's own epoll watches. The peer's plain `FUTEX_WAKE` completes the request, the
//! completion makes the descriptor readable, and epoll wakes the runtime thread that owns
//! the task: one wake-up per message, as for a blocking thread, where the waker thread
//! (`crate::wake::hub`) took two (futex -> waker thread -> runtime thread).
//!
//! Nothing changes on the waking side or in shared memory: the request is a futex waiter
//! like any other (shared, not private: the word is in a mapping of several processes), so
//! blocking and async sides of any ring wake each other the same way.
//!
//! Each wait also carries a linked timeout (one liveness slice), so a request never outlives
//! its slice: a wait whose future was dropped leaves at most one request behind, which ends
//! by the next wake-up or by its timeout, and which the next wait reuses.
//!
//! Memory: the kernel reads the word once, when the request is submitted (compare and
//! queue, as `FUTEX_WAIT` does), and keeps only the futex key afterwards; a mapping unmapped
//! while a request is queued is never read again. Dropping the sleeper closes the ring,
//! which cancels what is queued.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use std::task::{Context, Poll};
use std::time::Duration;

use io_uring::{opcode, types, IoUring};

use crate::wake::watched::Watched;
use tokio::io::Interest;

/// futex2 flag: a 32-bit word (no `FUTEX2_PRIVATE`: the word is shared between processes).
const FUTEX2_SIZE_U32: u32 = 0x02;
/// Match any waker's bitset (a plain `FUTEX_WAKE` uses all bits).
const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;
/// `user_data` of the futex wait request.
const UD_WAIT: u64 = 1;
/// `user_data` of its linked timeout.
const UD_TIMEOUT: u64 = 2;

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fired {
    /// A wake-up (or the word already differed): look at once.
    Woken,
    /// The slice passed with no wake-up (or the wait was otherwise cut short): the caller
    /// runs its slice-end checks.
    Slice,
}

/// One task's futex sleeper: an io_uring of a few entries, registered with the runtime.
pub(crate) struct UringSleeper {
    /// A duplicate of the ring's descriptor, registered with the runtime's epoll (the same
    /// io_uring: it is readable when a completion is queued).
    afd: Watched<OwnedFd>,
    ring: IoUring,
    /// A futex wait request is queued and has not completed.
    pending: bool,
    /// The linked timeout's duration (the kernel reads it when the request is submitted).
    ts: types::Timespec,
}

impl std::fmt::Debug for UringSleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringSleeper")
            .field("fd", &self.ring.as_raw_fd())
            .field("pending", &self.pending)
            .finish()
    }
}

impl UringSleeper {
    /// A sleeper, or `None` where io_uring or its futex wait is not available (kernel
    /// before 6.7, io_uring disabled by sysctl or seccomp) or the runtime has no I/O
    /// driver: the caller then uses the waker thread.
    pub(crate) fn new() -> Option<UringSleeper> {
        let ring = IoUring::new(4).ok()?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe).ok()?;
        if !probe.is_supported(opcode::FutexWait::CODE)
            || !probe.is_supported(opcode::LinkTimeout::CODE)
        {
            return None;
        }
        // Once per sleeper (made at a waiter's first sleep): one `dup`, so the registration
        // owns the descriptor it watches.
        let dup = ring.as_fd().try_clone_to_owned().ok()?;
        let afd = Watched::register_with_interest(dup, Interest::READABLE).ok()?;
        Some(UringSleeper {
            afd,
            ring,
            pending: false,
            ts: types::Timespec::new(),
        })
    }

    /// Queues a wait on `word` while it holds `ticket`, for at most `slice` (unless a wait
    /// queued earlier is still there: it ends at the next wake-up as well, so it is kept).
    pub(crate) fn arm(&mut self, word: &AtomicU32, ticket: u32, slice: Duration) -> io::Result<()> {
        reap(&mut self.ring, &mut self.pending)?;
        if self.pending {
            return Ok(());
        }
        self.ts = types::Timespec::new()
            .sec(slice.as_secs())
            .nsec(slice.subsec_nanos());
        let wait = opcode::FutexWait::new(
            word.as_ptr(),
            ticket as u64,
            FUTEX_BITSET_MATCH_ANY,
            FUTEX2_SIZE_U32,
        )
        .build()
        .flags(io_uring::squeue::Flags::IO_LINK)
        .user_data(UD_WAIT);
        let timeout = opcode::LinkTimeout::new(&self.ts)
            .build()
            .user_data(UD_TIMEOUT);
        // SAFETY: the word is valid now and the kernel reads it only while this submit
        // runs (compare and queue; see the module docs); `self.ts` lives until `submit`
        // below has returned, which is when the kernel reads it. The queue has room for
        // both entries: at most one pair is queued at a time and the ring has 4 entries.
        unsafe {
            let mut sq = self.ring.submission();
            sq.push(&wait)
                .map_err(|_| io::Error::other("io_uring queue full"))?;
            sq.push(&timeout)
                .map_err(|_| io::Error::other("io_uring queue full"))?;
        }
        self.ring.submit()?;
        self.pending = true;
        Ok(())
    }

    /// Ready once the queued wait has completed.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Fired>> {
        let UringSleeper {
            afd, ring, pending, ..
        } = self;
        loop {
            if let Some(f) = reap(ring, pending)? {
                return Poll::Ready(Ok(f));
            }
            if !*pending {
                return Poll::Ready(Ok(Fired::Slice));
            }
            let mut guard = match afd.poll_read_ready(cx) {
                Poll::Ready(g) => g?,
                Poll::Pending => return Poll::Pending,
            };
            if let Some(f) = reap(ring, pending)? {
                return Poll::Ready(Ok(f));
            }
            // Nothing completed since the readiness was set: wait for the next edge.
            guard.clear_ready();
        }
    }
}

/// Takes every completion; `Some` once the futex wait has completed (and clears `pending`).
fn reap(ring: &mut IoUring, pending: &mut bool) -> io::Result<Option<Fired>> {
    let mut fired = None;
    for cqe in ring.completion() {
        if cqe.user_data() != UD_WAIT {
            continue; // the linked timeout's own completion
        }
        *pending = false;
        fired = Some(match -cqe.result() {
            0 | libc::EAGAIN => Fired::Woken,
            // ECANCELED: the linked timeout ended it; EINTR: cut short.
            libc::ECANCELED | libc::EINTR | libc::ETIME => Fired::Slice,
            e => return Err(io::Error::from_raw_os_error(e)),
        });
    }
    Ok(fired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// A wait queued through the ring's registered duplicate descriptor ends with the
    /// waker's plain futex wake (skipped where io_uring's futex wait is unavailable).
    #[test]
    fn woken_through_the_registered_duplicate() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let Some(mut s) = UringSleeper::new() else {
                eprintln!("io_uring futex wait unavailable here: skipped");
                return;
            };
            let word = Arc::new(AtomicU32::new(0));
            s.arm(&word, 0, Duration::from_secs(10)).unwrap();
            let w = word.clone();
            let waker = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                w.store(1, Ordering::Release);
                crate::sys::futex::wake_all(&w);
            });
            let fired = std::future::poll_fn(|cx| s.poll_fired(cx)).await.unwrap();
            waker.join().unwrap();
            assert_eq!(fired, Fired::Woken);
        });
    }
}
