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

use crate::sync::{heavy_barrier, light_barrier, AtomicU32, Ordering};

mod blocking;
pub mod excuse;
#[cfg(all(feature = "async", target_os = "linux", not(loom)))]
pub(crate) mod hub;
#[cfg(all(feature = "async", not(loom)))]
pub(crate) mod ptr;
#[cfg(all(feature = "async", not(loom)))]
pub(crate) mod tokio;
#[cfg(all(feature = "async", target_os = "linux", not(loom)))]
pub(crate) mod uring;
// One tokio registration per descriptor, for every async form that waits on a descriptor.
#[cfg(all(
    feature = "async",
    not(loom),
    any(target_os = "linux", feature = "pipe", feature = "socket")
))]
pub(crate) mod watched;

pub(crate) use blocking::{wait_for, Limit};
pub use excuse::ExcuseWord;

/// True if this process takes part in excused fences: while a ring's other side polls,
/// a publish (or release) here skips its full fence, and a side here that goes from
/// polling to sleeping first issues `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` (once
/// per switch, not per sleep). Linux 4.16+ and a sandbox that lets the call through; the
/// environment variable `IPCRING_NO_MEMBARRIER=1` turns it off for the process. Either
/// way the protocol is correct: without it every publish keeps its fence. The first call
/// registers the process (one system call); later ones read a cached answer.
///
/// ```
/// if ipcring::wake::fences_excused() {
///     println!("publishes skip their fence while the peer polls");
/// }
/// ```
pub fn fences_excused() -> bool {
    excuse::enabled()
}

/// What a waiting side sleeps on: its wake word, and the excuse word beside it where the
/// layout has one (the ring: see [`excuse`]). A plain `&WakeWord` converts into one
/// without an excuse word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sleep<'a> {
    pub(crate) word: &'a WakeWord,
    pub(crate) excuse: Option<&'a ExcuseWord>,
}

impl<'a> From<&'a WakeWord> for Sleep<'a> {
    fn from(word: &'a WakeWord) -> Sleep<'a> {
        Sleep { word, excuse: None }
    }
}

impl Sleep<'_> {
    /// A wait ended without sleeping: this side polls, so its peer may skip its fence
    /// ([`ExcuseWord::give`]).
    #[inline]
    pub(crate) fn polled(&self) {
        if let Some(e) = self.excuse {
            e.give();
        }
    }

    /// Withdraws the excuse if it was given ([`ExcuseWord::withdraw`]), then announces a
    /// sleeper ([`WakeWord::prepare_wait`]): the ticket, and the longest sleep that is then
    /// safe: one [`LIVENESS_SLICE`], or 1 ms if either barrier failed (a wake-up may then
    /// be missed: bound its cost).
    #[inline]
    pub(crate) fn announce(&self) -> (u32, Duration) {
        let excuse_ok = self.excuse.is_none_or(|e| e.withdraw());
        let (ticket, barrier_ok) = self.word.prepare_wait();
        if excuse_ok && barrier_ok {
            (ticket, LIVENESS_SLICE)
        } else {
            (ticket, Duration::from_millis(1))
        }
    }
}

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

/// Spinning longer than this, a side also yields its CPU at every look at the clock
/// (unless yields are costly here now: see [`spin_yield`]). Measured reason: when a side
/// wakes its sleeping peer with a futex and then spins waiting for the answer, the kernel
/// may queue the woken peer on the *spinner's* CPU (wake-affine placement); without
/// yielding, the peer only runs once the spin time is over, so every round trip with a
/// sleeping peer cost twice the spin time (spin 20 us: 53 us round trip against a 7 us
/// futex floor; spin 100 us: 210 us; measured again with a loaded machine: 57-62 µs
/// against 10.8-12.1 µs). Yielding after 1 us brings it to the floor, and costs nothing
/// while the peer answers sooner (a busy-poll round trip is a fraction of a microsecond;
/// yielding on every look at the clock from the start cost it 40%).
pub(crate) const YIELD_AFTER: Duration = Duration::from_micros(1);

/// A spin-phase yield that took longer than this gave the CPU to other work (not just to
/// a peer queued behind us): see [`spin_yield`].
const YIELD_COSTLY: Duration = Duration::from_micros(50);

/// How long a thread stops yielding in spin phases after a costly yield.
const YIELD_PAUSE: Duration = Duration::from_millis(100);

#[cfg(not(loom))]
thread_local! {
    /// Until when this thread's spin phases do not yield (see [`spin_yield`]).
    static NO_YIELD_UNTIL: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// How long a side that has just woken its peer spins (when its strategy's spin time is
/// longer) before it sleeps: a peer that wakes on another CPU within it is caught, and the
/// pair goes back to polling; a peer the kernel queued behind this side waits at most this
/// long even when yields are costly (see [`spin_yield`]); a peer whose CPU had halted costs
/// the floor's second wake-up. Measured (`cargo bench --features async,socket --bench
/// async_ring -- --quick`, load average 8-12 on 2 CPUs, "300us apart" row): 23.7-24.3 µs
/// p50 with it against 38.8-54.3 µs with costly yields and the full 20 µs spin.
pub(crate) const AFTER_WAKE_SPIN: Duration = Duration::from_micros(5);

#[cfg(not(loom))]
thread_local! {
    /// When this thread last woke a sleeper ([`WakeWord::wake`]); taken by its next wait.
    static LAST_WAKE: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// The spin time of a wait that starts at `start` with `spin`: at most
/// [`AFTER_WAKE_SPIN`] if this thread woke a sleeper less than `spin` ago (forgotten
/// then: one wait only).
pub(crate) fn spin_after_wake(start: std::time::Instant, spin: Duration) -> Duration {
    #[cfg(not(loom))]
    {
        if spin > AFTER_WAKE_SPIN
            && LAST_WAKE.with(|c| c.take().is_some_and(|t| start.duration_since(t) < spin))
        {
            return AFTER_WAKE_SPIN;
        }
    }
    let _ = start;
    spin
}

/// One yield of a spin phase (see [`YIELD_AFTER`]), skipped while yields are costly on
/// this thread; returns the time after it. A yield hands the CPU to every other runnable
/// task for its whole slice: on a loaded machine (load average 7 on 2 CPUs) the default
/// strategy with a peer answering after 100 µs or 1 ms then cost 3.8-8.0 ms per round trip,
/// against 0.23-1.15 ms for the futex floor whose peer paused the same way (`cargo bench
/// --bench ring -- --pause-only`). So once a yield took longer than [`YIELD_COSTLY`], the
/// thread spins without yielding for [`YIELD_PAUSE`]: at most one such loss per pause.
/// (Tried and not kept: never yielding, which brings back the doubled round trip above;
/// sleeping at once whenever this side had just woken its peer, which locked a pair into
/// sleeping: each side had always just woken the other, and a peer answering at once cost
/// two wake-ups per round trip, 21.8-43.8 µs p50 against 0.5-7.3 µs. The 5 µs spin after
/// a wake-up, [`AFTER_WAKE_SPIN`], is what was kept of it.)
pub(crate) fn spin_yield(now: std::time::Instant) -> std::time::Instant {
    #[cfg(not(loom))]
    {
        if NO_YIELD_UNTIL.with(|c| c.get().is_some_and(|t| now < t)) {
            return now;
        }
        std::thread::yield_now();
        let after = std::time::Instant::now();
        if after.duration_since(now) > YIELD_COSTLY {
            NO_YIELD_UNTIL.with(|c| c.set(Some(after + YIELD_PAUSE)));
        }
        after
    }
    #[cfg(loom)]
    {
        now
    }
}

/// Polls a wait makes (with a spin hint between them) before it reads the clock, when its
/// strategy spins at all: a busy-poll round trip that ends within them reads no clock on
/// either side (an `Instant::now()` is 32 instructions and a `rdtsc`; each side used to
/// read it once per round trip, on its first miss). Sixteen spin hints are about 0.4 µs
/// here (a PAUSE measured 25 ns on the 2-vCPU reference guest), longer than a far
/// placement's busy-poll round trip and well under the spin phase's first yield
/// ([`YIELD_AFTER`], 1 µs). The blocking wait (`blocking::wait_for`) looks at the clock
/// only every 64 polls anyway, so these shift its deadline and its spin phase by
/// less than that granularity; a strategy with a spin time of zero (sleep or yield at the
/// first miss) skips them.
pub(crate) const QUICK_POLLS: u32 = 16;

/// `ready()` once, then (if `strategy` spins) up to [`QUICK_POLLS`] more times with a spin
/// hint before each: the value, or `None` if the caller must wait the long way.
#[inline(always)]
pub(crate) fn quick_poll<T>(
    strategy: WaitStrategy,
    mut ready: impl FnMut() -> crate::Result<Option<T>>,
) -> crate::Result<Option<T>> {
    if let Some(v) = ready()? {
        return Ok(Some(v));
    }
    let spins = match strategy {
        WaitStrategy::Spin => true,
        WaitStrategy::SpinYield { spin } | WaitStrategy::SpinBlock { spin } => !spin.is_zero(),
    };
    if spins {
        // (`black_box`: a loop rolled up, not 16 inlined copies of the poll.)
        for _ in 0..std::hint::black_box(QUICK_POLLS) {
            crate::sync::spin_hint();
            if let Some(v) = ready()? {
                return Ok(Some(v));
            }
        }
    }
    Ok(None)
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
    /// A zeroed word for in-process models (loom, tests).
    #[cfg(any(test, loom))]
    pub(crate) fn new_model() -> WakeWord {
        WakeWord {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            #[cfg(loom)]
            park: (loom::sync::Mutex::new(()), loom::sync::Condvar::new()),
        }
    }

    /// Forgets the sleepers counted so far: for the one side that sleeps on this word, as
    /// it attaches (its role lock held, so no other sleeper of that side exists). One
    /// killed in its sleep never withdrew its count, and every waker would otherwise make
    /// a futex system call per message for nobody, for the life of the segment.
    #[cold]
    pub(crate) fn forget_sleepers(&self) {
        // SYNC: nobody sleeps on this word now; a waker that still reads the old count
        // wakes nobody once: Relaxed.
        self.waiters.store(0, Ordering::Relaxed);
    }

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

    /// The publishing side's half of the protocol, after the Release store that published
    /// (a record, a position): whether a sleeper announced itself and must be woken
    /// ([`WakeWord::wake`]). Excused (see [`excuse`]), nobody sleeps that this publish
    /// could miss: the sleeper withdraws its excuse with a barrier before it announces
    /// itself, so a publish that still read the excuse came, stores and all, before that
    /// barrier, and the sleeper's re-check sees it. So an excused publish reads nothing
    /// more (measured: the `waiters` read alone cost 64 B streaming a quarter of its
    /// rate); otherwise the store-load barrier, then `waiters`.
    #[inline(always)]
    pub(crate) fn after_publish(&self, excused: bool) -> bool {
        if excused {
            return false;
        }
        // SYNC: the publishing stores before this and the load of `waiters` below must not
        // be reordered (store-load): paired with the sleeper's barrier after it announces
        // itself (`prepare_wait`), either we see its announcement or its re-check sees what
        // we published.
        light_barrier();
        self.waiters.load(Ordering::Relaxed) != 0
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
        #[cfg(not(loom))]
        LAST_WAKE.with(|c| c.set(Some(std::time::Instant::now())));
        #[cfg(loom)]
        {
            let (m, cv) = &self.park;
            let _g = m.lock().unwrap();
            cv.notify_all();
        }
    }
}
