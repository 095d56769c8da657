//! The blocking driver of the wait plan: a thread that waits spins, yields and sleeps on
//! the futex itself (see the module above for the protocol).

use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::wake::{spin_after_wake, spin_yield, Sleep, WaitStrategy, LIVENESS_SLICE, YIELD_AFTER};
use crate::{Error, Result};

/// How long a wait may last: a timeout counted from the first miss (`None`: no limit), or
/// a deadline fixed by the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    For(Option<Duration>),
    Until(Deadline),
}

impl From<Option<Duration>> for Limit {
    fn from(timeout: Option<Duration>) -> Limit {
        Limit::For(timeout)
    }
}

impl From<Deadline> for Limit {
    fn from(deadline: Deadline) -> Limit {
        Limit::Until(deadline)
    }
}

impl Limit {
    /// True if a wait under this limit and `strategy` spins before anything else: false
    /// for an immediate deadline, a zero timeout, and a strategy with no spin phase.
    pub(crate) fn spins_first(&self, strategy: WaitStrategy) -> bool {
        let now = match self {
            Limit::For(t) => *t == Some(Duration::ZERO),
            Limit::Until(d) => d.is_immediate(),
        };
        !now && match strategy {
            WaitStrategy::Spin => true,
            WaitStrategy::SpinYield { spin } | WaitStrategy::SpinBlock { spin } => !spin.is_zero(),
        }
    }
}

/// Polls between two looks at the clock while spinning.
const SPINS_PER_CLOCK: u32 = 64;

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
///
/// `limit` is a timeout (`Option<Duration>`, counted from the first miss) or a
/// [`Deadline`]; with [`Deadline::immediate`] a miss is `Error::Timeout` at once, with no
/// clock read.
///
/// `wake` is the wake word (or a [`Sleep`] with its excuse word: a wait that `ready` ends
/// in the spin phase gives the excuse, the first sleep withdraws it; see `wake::excuse`).
pub(crate) fn wait_for<'w, C: ?Sized, T>(
    wake: impl Into<Sleep<'w>>,
    strategy: WaitStrategy,
    limit: impl Into<Limit>,
    ctx: &mut C,
    mut ready: impl FnMut(&mut C) -> Result<Option<T>>,
    mut slice_end: impl FnMut(&mut C) -> Result<bool>,
) -> Result<T> {
    let wake: Sleep<'w> = wake.into();
    // (Not `quick_poll` first, as the service's waits do: measured on the ring, polls with
    // a spin hint before the clock read made the busy-poll round trip 1.54x -> 1.90x the
    // one-line floor, and 64 B streaming did not gain.)
    if let Some(v) = ready(ctx)? {
        wake.polled();
        return Ok(v);
    }
    let limit = limit.into();
    if matches!(limit, Limit::Until(d) if d.is_immediate()) {
        return Err(Error::Timeout);
    }
    let start = Instant::now();
    let deadline = match limit {
        Limit::Until(d) => d,
        Limit::For(timeout) => Deadline::starting_at(start, timeout),
    };
    let (spin, block) = match strategy {
        WaitStrategy::Spin => (None, false),
        WaitStrategy::SpinYield { spin } => (Some(spin), false),
        WaitStrategy::SpinBlock { spin } => (Some(spin_after_wake(start, spin)), true),
    };
    let mut next_check = start + LIVENESS_SLICE;
    // Phase 1: spin (none at all with a spin time of zero).
    if spin != Some(Duration::ZERO) {
        let mut n: u32 = 0;
        loop {
            if let Some(v) = ready(ctx)? {
                wake.polled();
                return Ok(v);
            }
            n = n.wrapping_add(1);
            crate::sync::spin_hint();
            if n % SPINS_PER_CLOCK != 0 {
                continue;
            }
            let mut now = Instant::now();
            if now.duration_since(start) >= YIELD_AFTER {
                // Let a peer that the scheduler queued on this CPU run (see YIELD_AFTER).
                now = spin_yield(now);
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
            let (ticket, cap) = wake.announce();
            match ready(ctx) {
                Ok(Some(v)) => {
                    wake.word.cancel_wait();
                    return Ok(v);
                }
                Ok(None) => {}
                Err(e) => {
                    wake.word.cancel_wait();
                    return Err(e);
                }
            }
            let woken = deadline
                .slice(cap)
                .is_some_and(|slice| wake.word.sleep(ticket, Some(slice)));
            if woken {
                // Woken by the peer, which has just written to the mapping: look at once,
                // with no system call beyond the futex floor's.
                wake.word.cancel_wait();
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
                        wake.word.cancel_wait();
                    }
                    return Err(e);
                }
            };
            if !woken {
                wake.word.cancel_wait();
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
            if !block {
                wake.polled(); // yielded, never slept
            }
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
