//! Wait strategies and the sleep/wake protocol (an eventcount on a shared futex word).
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
//! The loom models in `ring::tests_loom` check this over every interleaving.

use std::time::{Duration, Instant};

use crate::ring::layout::WakeWord;
use crate::sync::{heavy_barrier, Ordering};
use crate::transport::Deadline;
use crate::{Error, Result};

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
/// use ipcring::ring::{RingOptions, WaitStrategy};
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

/// Polls between two looks at the clock while spinning.
const SPINS_PER_CLOCK: u32 = 64;

/// Spinning longer than this, a side also yields its CPU at every look at the clock.
/// Measured reason: when a side wakes its sleeping peer with a futex and then spins
/// waiting for the answer, the kernel may queue the woken peer on the *spinner's* CPU
/// (wake-affine placement); without yielding, the peer only runs once the spin time is
/// over, so every round trip with a sleeping peer cost twice the spin time (spin 20 us:
/// 53 us round trip against a 7 us futex floor; spin 100 us: 210 us). Yielding after 1 us
/// brings it to the floor, and costs nothing while the peer answers sooner (a busy-poll
/// round trip is a fraction of a microsecond; yielding on every look at the clock from the
/// start cost it 40%).
pub(crate) const YIELD_AFTER: Duration = Duration::from_micros(1);

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
        #[cfg(loom)]
        {
            let (m, cv) = &self.park;
            let _g = m.lock().unwrap();
            cv.notify_all();
        }
    }
}

/// Waits until `ready` yields a value, following `strategy`, for at most `timeout` (`None`:
/// no limit). Both closures are handed `ctx` (the waiting side's cursor, which both use).
///
/// `ready` is tried before anything else: when it yields at once, the wait reads no
/// clock (the timeout's deadline is counted from the first miss, with the same clock read
/// that starts the spin).
///
/// `slice_end` is called at most once per [`LIVENESS_SLICE`] and only once spinning is
/// over or has lasted a slice, and after every sleep on the futex that no wake-up ended
/// (a timed-out slice or a signal) *before anything else touches shared memory* (so a
/// check there that the segment is still whole, e.g. not truncated, comes before any
/// access that would fault). A sleep the peer's wake-up ended looks at the ring at once:
/// the peer has just written to it, and the sleeping round trip keeps the futex floor's
/// system calls (a check per wake-up would add an `fstat` and an `fcntl` to each side). It returns whether the peer is
/// gone, or an error that ends the wait (`Corrupt`, `BadSegment`: the wait then returns it
/// without touching the wake word again when it is `BadSegment`). When the peer is gone,
/// `ready` is tried one last time (so everything the peer published before dying is still
/// delivered), then `Error::Disconnected`.
///
/// A spin time of zero means no spin phase at all: the first miss goes straight to
/// sleep, with the floor's work (announce, re-check, one `FUTEX_WAIT`; no poll loop, no
/// `sched_yield`), plus the slice-end check after the sleep. Measured (`cargo bench
/// --bench ring -- --wake-count ring` under `perf stat`, 10 000 round trips, a loaded 2-CPU
/// guest): `SpinBlock { spin: 0 }` used to poll 64 times and `sched_yield` before sleeping.
/// Unpinned, the scheduler then queued both processes on one CPU, where they spun and
/// yielded to each other (1.7 `sched_yield` and 0.007 futex calls per round trip; p50
/// 1.24-1.42x the futex floor, mean 23-174x); pinned apart, the polls mostly caught the
/// answer (0.26 yields, 0.53 futex calls), so "every wait sleeps" did not. Now: 4.0 futex
/// calls and 2 context switches per round trip, as the floor (`--wake-only`: p50
/// 0.84-1.16x, mean 0.79-1.17x unpinned; 1.05-1.14x and 1.02-1.41x pinned).
pub(crate) fn wait_for<C: ?Sized, T>(
    wake: &WakeWord,
    strategy: WaitStrategy,
    timeout: Option<Duration>,
    ctx: &mut C,
    mut ready: impl FnMut(&mut C) -> Result<Option<T>>,
    mut slice_end: impl FnMut(&mut C) -> Result<bool>,
) -> Result<T> {
    if let Some(v) = ready(ctx)? {
        return Ok(v);
    }
    let start = Instant::now();
    let deadline = Deadline::starting_at(start, timeout);
    let (spin, block) = match strategy {
        WaitStrategy::Spin => (None, false),
        WaitStrategy::SpinYield { spin } => (Some(spin), false),
        WaitStrategy::SpinBlock { spin } => (Some(spin), true),
    };
    let mut next_check = start + LIVENESS_SLICE;
    // Phase 1: spin (none at all with a spin time of zero).
    if spin != Some(Duration::ZERO) {
        let mut n: u32 = 0;
        loop {
            if let Some(v) = ready(ctx)? {
                return Ok(v);
            }
            n = n.wrapping_add(1);
            crate::sync::spin_hint();
            if n % SPINS_PER_CLOCK != 0 {
                continue;
            }
            let now = Instant::now();
            if now.duration_since(start) >= YIELD_AFTER {
                // Let a peer that the scheduler queued on this CPU run (see YIELD_AFTER).
                std::thread::yield_now();
            }
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            if now >= next_check {
                next_check = now + LIVENESS_SLICE;
                if slice_end(ctx)? {
                    return ready(ctx)?.ok_or(Error::Disconnected);
                }
            }
            if let Some(s) = spin {
                if now.duration_since(start) >= s {
                    break;
                }
            }
        }
    }
    // Phase 2: yield or block.
    loop {
        let gone = if block {
            let (ticket, barrier_ok) = wake.prepare_wait();
            match ready(ctx) {
                Ok(Some(v)) => {
                    wake.cancel_wait();
                    return Ok(v);
                }
                Ok(None) => {}
                Err(e) => {
                    wake.cancel_wait();
                    return Err(e);
                }
            }
            // Without the heavy barrier a wake-up can be missed: bound its cost.
            let cap = if barrier_ok {
                LIVENESS_SLICE
            } else {
                Duration::from_millis(1)
            };
            let slice = match deadline.remaining() {
                Some(left) => left.min(cap),
                None => cap,
            };
            let woken = !slice.is_zero() && wake.sleep(ticket, Some(slice));
            if woken {
                // Woken by the peer, which has just written to the mapping: look at once,
                // with no system call beyond the futex floor's.
                wake.cancel_wait();
                if let Some(v) = ready(ctx)? {
                    return Ok(v);
                }
            }
            // The slice's end (a timeout, a signal, or a wake-up for something else, e.g.
            // the peer detaching): check before touching shared memory again (see above).
            let gone = match slice_end(ctx) {
                Ok(gone) => gone,
                Err(e) => {
                    if !woken && !matches!(e, Error::BadSegment { .. }) {
                        wake.cancel_wait();
                    }
                    return Err(e);
                }
            };
            if !woken {
                wake.cancel_wait();
            }
            gone
        } else {
            std::thread::yield_now();
            let now = Instant::now();
            if now >= next_check {
                next_check = now + LIVENESS_SLICE;
                slice_end(ctx)?
            } else {
                false
            }
        };
        if let Some(v) = ready(ctx)? {
            return Ok(v);
        }
        if gone {
            return Err(Error::Disconnected);
        }
        if deadline.expired() {
            return Err(Error::Timeout);
        }
    }
}
