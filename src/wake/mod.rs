//! Waking a peer that sleeps, and waiting for one: the futex eventcount ([`WakeWord`], a
//! pair of 32-bit words in shared memory), the wait plan ([`WaitStrategy`]: spin, yield,
//! sleep; liveness checks every [`LIVENESS_SLICE`]), and its drivers: a blocking one
//! (`blocking::wait_for`) and a tokio one (`tokio::Waiter`, feature `async`). Used by the
//! ring, the seqlock cell, the broadcast ring, the service and every async form.
//!
//! # Protocol
//! A side that finds nothing to do (consumer: ring empty; producer: ring full):
//! 1. spins for a bounded time, re-checking (no system call, no shared write);
//! 2. announces itself: `waiters += 1` (SeqCst), then a SeqCst fence, then reads `seq`;
//! 3. re-checks its condition; if it now holds, withdraws (`waiters -= 1`) and returns;
//! 4. sleeps in `FUTEX_WAIT(seq, value read in 2)` (shared futex), for at most one
//!    liveness slice, then withdraws and goes back to 3.
//!
//! The other side, after publishing (its Release store of a position), issues a SeqCst
//! fence and reads `waiters`; only if it is non-zero does it bump `seq` and call
//! `FUTEX_WAKE`. So when nobody sleeps, sending and receiving make no system call.
//!
//! No lost wakeup: the two fences order "publish, then read waiters" against "announce,
//! then re-check": at least one side sees the other. If the waker saw no waiter, the
//! sleeper's re-check sees the data; if it saw one, it bumps `seq`, and the sleeper either
//! read `seq` after the bump (its Acquire load synchronises with the bump, so its re-check
//! sees the data) or sleeps on the old value, which FUTEX_WAIT refuses or is woken from.
//! The loom models in `ring::tests_loom` (and the seqlock, broadcast and service models)
//! check this over every interleaving.

use std::time::Duration;

use crate::sync::{heavy_barrier, AtomicU32, Ordering};

mod blocking;
#[cfg(all(feature = "async", target_os = "linux", not(loom)))]
pub(crate) mod hub;
#[cfg(all(feature = "async", not(loom)))]
pub(crate) mod tokio;
#[cfg(all(feature = "async", target_os = "linux", not(loom)))]
pub(crate) mod uring;

pub(crate) use blocking::wait_for;

/// How a blocked side waits for its peer.
///
/// | strategy | latency when the peer answers at once | CPU while idle | system calls |
/// |---|---|---|---|
/// | `Spin` | lowest | one core at 100% | none |
/// | `SpinYield` | low | one core, yielding | `sched_yield` |
/// | `SpinBlock` (default) | low while within the spin time, one futex wake after | none after the spin time | futex only when asleep |
///
/// ```
/// use std::time::Duration;
/// use ipcring::ring::RingOptions;
/// use ipcring::wake::WaitStrategy;
/// let opts = RingOptions::new().wait(WaitStrategy::SpinBlock { spin: Duration::from_micros(50) });
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-poll forever (until the deadline or the peer's death). For latency-critical
    /// pairs with a core each.
    Spin,
    /// Busy-poll for `spin`, then `sched_yield` between polls.
    SpinYield {
        /// How long to poll before yielding (zero: yield from the first miss).
        spin: Duration,
    },
    /// Busy-poll for `spin`, then sleep on the futex until woken (the default, with
    /// [`WaitStrategy::DEFAULT_SPIN`]).
    SpinBlock {
        /// How long to poll before sleeping. Zero: every wait that finds nothing sleeps
        /// at once (no polling, no `sched_yield`), the same work as a raw futex
        /// ping-pong; for peers that share CPUs with other work, or answer slowly.
        spin: Duration,
    },
}

impl WaitStrategy {
    /// Default spin time before sleeping: 20 µs, well above a same-machine round trip
    /// (sub-microsecond) and well below a futex wake-up on a virtual machine (~40 µs).
    pub const DEFAULT_SPIN: Duration = Duration::from_micros(20);
}

impl Default for WaitStrategy {
    fn default() -> Self {
        WaitStrategy::SpinBlock {
            spin: WaitStrategy::DEFAULT_SPIN,
        }
    }
}

/// How often a blocked side checks that its peer is alive: the bound on noticing a peer's
/// death (documented as at most 100 ms; typically one slice).
pub const LIVENESS_SLICE: Duration = Duration::from_millis(10);

/// When this thread last woke a sleeper ([`WakeWord::wake`]), taken by its next wait.
///
/// A side that has just woken its sleeping peer and then waits for the answer sleeps at
/// once instead of spinning (see [`woke_peer_within`]). Measured reasons, 64-byte round
/// trips with the default strategy (20 µs spin):
/// - the kernel may queue the woken peer on the *waker's* CPU (wake-affine placement); a
///   spin that does not yield then keeps the peer off that CPU until the spin is over:
///   every round trip with a sleeping peer cost twice the spin time (53 µs against a 7 µs
///   futex floor; spin 100 µs: 210 µs);
/// - the fix before this one yielded (`sched_yield`) at every look at the clock once the
///   spin had lasted 1 µs. On a loaded machine a yield hands the CPU to every other
///   runnable task for its whole slice: with a peer answering after a pause (100 µs, 1 ms)
///   the round trip cost 3.8–8.0 ms against 0.23–1.15 ms for the futex floor whose peer
///   paused the same way (`cargo bench --bench ring -- --pause-only`, load average 7 on 2
///   CPUs).
///
/// A peer that was asleep answers a wake-up later at the earliest, which is what the spin
/// would have waited for; sleeping at once costs one futex wake each way, the floor's work.
#[cfg(not(loom))]
mod last_wake {
    use std::cell::Cell;
    use std::time::Instant;

    thread_local! {
        pub(super) static AT: Cell<Option<Instant>> = const { Cell::new(None) };
    }
}

/// Notes that this thread just woke a sleeper (see [`woke_peer_within`]).
#[inline]
fn note_wake() {
    #[cfg(not(loom))]
    last_wake::AT.with(|c| c.set(Some(std::time::Instant::now())));
}

/// True if this thread woke a sleeper less than `within` before `now` and has not waited
/// since (and forgets it): the wait that follows then sleeps at once instead of spinning.
#[inline]
pub(crate) fn woke_peer_within(now: std::time::Instant, within: Duration) -> bool {
    #[cfg(not(loom))]
    {
        last_wake::AT.with(|c| c.take().is_some_and(|t| now.duration_since(t) < within))
    }
    #[cfg(loom)]
    {
        let _ = (now, within);
        false
    }
}

/// A futex eventcount: the word a side sleeps on, and the count of sleepers.
#[repr(C)]
#[derive(Debug)]
pub struct WakeWord {
    /// Bumped by the waker; sleepers wait while it still holds the value they read.
    pub seq: AtomicU32,
    /// How many sleepers have announced themselves.
    pub waiters: AtomicU32,
    /// Under loom, a condvar stands in for the futex.
    #[cfg(loom)]
    pub(crate) park: (loom::sync::Mutex<()>, loom::sync::Condvar),
}

impl WakeWord {
    /// Step 2 of the protocol: announce a sleeper; returns the ticket to sleep on, and
    /// whether the heavy barrier was issued (if not, sleep in short slices).
    #[inline]
    pub(crate) fn prepare_wait(&self) -> (u32, bool) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // SYNC: pairs with the waker's `light_barrier` in publish/release:
        // announce-then-recheck vs. publish-then-read-waiters.
        let ok = heavy_barrier();
        // SYNC: Acquire pairs with the Release bump in `wake`.
        (self.seq.load(Ordering::Acquire), ok)
    }

    /// Withdraws an announcement made by [`WakeWord::prepare_wait`].
    #[inline]
    pub(crate) fn cancel_wait(&self) {
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Step 4: sleeps while `seq` still equals `ticket`, at most `timeout`. `true` if a
    /// [`WakeWord::wake`] ended it (or came before it), `false` on a timeout or a signal.
    pub(crate) fn sleep(&self, ticket: u32, timeout: Option<Duration>) -> bool {
        #[cfg(not(loom))]
        {
            crate::sys::futex::wait(&self.seq, ticket, timeout)
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            let (m, cv) = &self.park;
            let g = m.lock().unwrap();
            if self.seq.load(Ordering::SeqCst) == ticket {
                drop(cv.wait(g).unwrap());
            }
            true
        }
    }

    /// Wakes every sleeper (called after `publish`/`release` said someone sleeps, and on
    /// detach so a blocked peer re-checks liveness at once).
    pub(crate) fn wake(&self) {
        // SYNC: Release, so a sleeper that reads the new value sees what was published.
        self.seq.fetch_add(1, Ordering::Release);
        #[cfg(not(loom))]
        crate::sys::futex::wake_all(&self.seq);
        note_wake();
        #[cfg(loom)]
        {
            let (m, cv) = &self.park;
            let _g = m.lock().unwrap();
            cv.notify_all();
        }
    }
}
