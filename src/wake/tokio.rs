//! The tokio driver of the wait plan: waiting on a shared-memory wake word from a task:
//! spin with yields, then announce and sleep on the futex (through `uring`, else the waker
//! thread of `hub`, else a blocking-pool thread). Used by the ring, broadcast and seqlock
//! wrappers; docs/methods/async.md says why.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::wake::ptr::{ExcusePtr, MapPtr, WordPtr};
use crate::wake::{Sleep, WaitStrategy, LIVENESS_SLICE};
use crate::{Error, Result};

/// Looks at the shared word's condition between two yields to the scheduler while spinning.
const SPINS_PER_YIELD: u32 = 64;

/// An announcement on a wake word, withdrawn when this drops.
#[cfg(target_os = "linux")]
struct Withdraw(WordPtr);

#[cfg(target_os = "linux")]
impl Drop for Withdraw {
    fn drop(&mut self) {
        self.0.get().cancel_wait();
    }
}

/// Set once a sleeper will never touch its wake word again.
#[derive(Debug, Default)]
struct Done {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Done {
    fn set(&self) {
        *self.flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    fn wait(&self) {
        let mut g = self.flag.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// One announcement (`waiters += 1`) on a wake word. Dropping it withdraws the
/// announcement and marks it done, whether the sleeper ran or its task was dropped unrun.
#[derive(Debug)]
struct Announced {
    word: WordPtr,
    done: Arc<Done>,
}

impl Drop for Announced {
    fn drop(&mut self) {
        self.word.get().cancel_wait();
        self.done.set();
    }
}

/// A blocking-pool task sleeping on a wake word for a waiting future.
#[derive(Debug)]
struct Sleeper {
    handle: JoinHandle<()>,
    done: Arc<Done>,
}

/// The glue of an async handle that holds its blocking handle as `inner` and a [`Waiter`]
/// as `waiter`: `From` the blocking handle (a waiter on the wake word its `$word()`
/// returns, with its wait strategy), and the `Drop` that settles the waiter first: before
/// the blocking handle, and with it the mapping the wake word lives in, goes (fields drop
/// after `drop`, `inner` first), no sleeper may still use the word.
///
/// `waited_handle!(AsyncProducer, Producer, space_wake_word)`; a handle generic over one
/// parameter names it with its bound: `waited_handle!(AsyncReader<T: bytemuck::Pod>,
/// Reader, changed_wake_word)`.
macro_rules! waited_handle {
    ($ty:ident $(<$g:ident: $b:path>)?, $inner:ident, $word:ident) => {
        impl$(<$g: $b>)? From<$inner$(<$g>)?> for $ty$(<$g>)? {
            fn from(inner: $inner$(<$g>)?) -> Self {
                let waiter =
                    $crate::wake::tokio::Waiter::new(inner.$word(), inner.wait_strategy());
                Self { inner, waiter }
            }
        }

        impl$(<$g: $b>)? Drop for $ty$(<$g>)? {
            fn drop(&mut self) {
                self.waiter.settle();
            }
        }
    };
}
pub(crate) use waited_handle;

/// The async wait state of one side of a ring.
#[derive(Debug)]
pub(crate) struct Waiter {
    word: WordPtr,
    /// The excuse word beside it, if any (see `wake::excuse`).
    excuse: Option<ExcusePtr>,
    /// How long to spin before sleeping; `None`: never sleep (WaitStrategy::Spin).
    spin: Option<Duration>,
    /// A sleeper still in flight, left by a wait that was cancelled (its future dropped),
    /// or by the one running now.
    sleeper: Option<Sleeper>,
    /// The io_uring futex sleeper (one wake-up per message), made at the first sleep.
    #[cfg(target_os = "linux")]
    uring: Uring,
}

/// The [`Sleep`] of a waiter's two pointers (a free function, so that it borrows the
/// pointers, not the whole waiter).
fn sleep_on<'a>(word: &'a WordPtr, excuse: &'a Option<ExcusePtr>) -> Sleep<'a> {
    Sleep {
        word: word.get(),
        excuse: excuse.as_ref().map(ExcusePtr::get),
    }
}

/// Whether this waiter sleeps through io_uring (see `wake::uring`).
#[cfg(target_os = "linux")]
#[derive(Debug)]
enum Uring {
    /// Not tried yet.
    Untried,
    /// Made: used for every sleep.
    Ready(Box<crate::wake::uring::UringSleeper>),
    /// Not available here (or it failed once): the waker thread or a blocking-pool thread.
    Unavailable,
}

impl Waiter {
    pub(crate) fn new<'w>(sleep: impl Into<Sleep<'w>>, strategy: WaitStrategy) -> Waiter {
        let sleep: Sleep<'w> = sleep.into();
        let spin = match strategy {
            WaitStrategy::Spin => None,
            WaitStrategy::SpinYield { spin } | WaitStrategy::SpinBlock { spin } => Some(spin),
        };
        Waiter {
            word: MapPtr(sleep.word),
            excuse: sleep.excuse.map(|e| MapPtr(e as *const _)),
            spin,
            sleeper: None,
            #[cfg(target_os = "linux")]
            uring: Uring::Untried,
        }
    }

    /// What this waiter sleeps on, as the blocking driver sees it.
    fn sleep(&self) -> Sleep<'_> {
        sleep_on(&self.word, &self.excuse)
    }

    /// Makes sure no sleeper uses the wake word any more: wakes it and waits (a few
    /// microseconds: the futex wait returns at once) until it has withdrawn. Called before
    /// the ring handle, and with it the mapping, can go away.
    pub(crate) fn settle(&mut self) {
        if let Some(s) = self.sleeper.take() {
            if !s.handle.is_finished() {
                self.word.get().wake();
                s.done.wait();
            }
        }
    }

    /// Waits until `ready(ctx)` yields a value; `gone(ctx)` says whether the peer died
    /// (checked about once per liveness slice). Cancel safe as long as `ready` is: nothing
    /// is taken between two `.await`s but in `ready`, which returns at once.
    pub(crate) async fn wait_for<C, T>(
        &mut self,
        ctx: &mut C,
        mut ready: impl FnMut(&mut C) -> Result<Option<T>> + Send,
        gone: impl Fn(&C) -> Result<bool> + Send,
    ) -> Result<T>
    where
        C: Send,
    {
        if let Some(v) = ready(ctx)? {
            self.sleep().polled();
            return Ok(v);
        }
        let start = Instant::now();
        let mut next_check = start + LIVENESS_SLICE;
        // Just woke the peer: spin only briefly (see `wake::AFTER_WAKE_SPIN`).
        let spin = self.spin.map(|s| crate::wake::spin_after_wake(start, s));
        // Phase 1: spin, yielding to the scheduler between rounds of looks (a yield can
        // cost the runtime a look at its I/O driver, so a round makes a few looks first).
        loop {
            for _ in 0..SPINS_PER_YIELD {
                std::hint::spin_loop();
                if let Some(v) = ready(ctx)? {
                    self.sleep().polled();
                    return Ok(v);
                }
            }
            tokio::task::yield_now().await;
            if let Some(v) = ready(ctx)? {
                self.sleep().polled();
                return Ok(v);
            }
            let mut now = Instant::now();
            if now.duration_since(start) >= crate::wake::YIELD_AFTER {
                // Also give the CPU away for a moment, as the blocking wait does: a peer
                // process that our futex wake queued on this CPU runs at once instead of
                // after the whole spin (see `wake::YIELD_AFTER`, `wake::spin_yield`).
                now = crate::wake::spin_yield(now);
            }
            if now >= next_check {
                next_check = now + LIVENESS_SLICE;
                if gone(ctx)? {
                    return ready(ctx)?.ok_or(Error::Disconnected);
                }
            }
            if matches!(spin, Some(s) if now.duration_since(start) >= s) {
                break;
            }
        }
        // Phase 2: sleep on the futex: as an io_uring request that the runtime's epoll
        // watches where there is io_uring's futex wait (Linux 6.7+); else through the
        // process's waker thread (futex_waitv); else in a blocking-pool thread.
        // After a sleep: look at once; at a slice's end (or when `$slice_over`: the sleep
        // ended without a wake-up) check that the peer lives.
        macro_rules! after_sleep {
            ($slice_over:expr) => {
                if let Some(v) = ready(ctx)? {
                    return Ok(v);
                }
                let now = Instant::now();
                if $slice_over || now >= next_check {
                    next_check = now + LIVENESS_SLICE;
                    if gone(ctx)? {
                        return ready(ctx)?.ok_or(Error::Disconnected);
                    }
                }
            };
        }
        loop {
            #[cfg(target_os = "linux")]
            if self.sleeper.is_none() {
                if matches!(self.uring, Uring::Untried) {
                    self.uring = crate::wake::uring::UringSleeper::new()
                        .map_or(Uring::Unavailable, |u| Uring::Ready(Box::new(u)));
                }
                if let Uring::Ready(u) = &mut self.uring {
                    let word = self.word;
                    let (ticket, slice) = sleep_on(&word, &self.excuse).announce();
                    let announced = Withdraw(word);
                    if let Some(v) = ready(ctx)? {
                        return Ok(v);
                    }
                    let fired = match u.arm(&word.get().seq, ticket, slice) {
                        Ok(()) => std::future::poll_fn(|cx| u.poll_fired(cx)).await,
                        Err(e) => Err(e),
                    };
                    drop(announced);
                    let Ok(fired) = fired else {
                        // Refused after all (e.g. the futex flags): the other ways.
                        self.uring = Uring::Unavailable;
                        continue;
                    };
                    after_sleep!(fired != crate::wake::uring::Fired::Woken);
                    continue;
                }
            }
            #[cfg(target_os = "linux")]
            if self.sleeper.is_none() {
                if let Some(hub) = crate::wake::hub::hub() {
                    let word = self.word;
                    let (ticket, slice) = self.sleep().announce();
                    let _announced = Withdraw(word);
                    if let Some(v) = ready(ctx)? {
                        return Ok(v);
                    }
                    let deadline = Instant::now() + slice;
                    let mut reg: Option<crate::wake::hub::Registration> = None;
                    let mut full = false;
                    std::future::poll_fn(|cx| match &reg {
                        Some(r) => r.poll_fired(cx),
                        None => match hub.register(word, ticket, deadline, cx.waker()) {
                            Some(r) => reg.insert(r).poll_fired(cx),
                            None => {
                                full = true;
                                std::task::Poll::Ready(())
                            }
                        },
                    })
                    .await;
                    drop(reg);
                    drop(_announced);
                    if !full {
                        after_sleep!(false);
                        continue;
                    }
                }
            }
            // A sleeper left by a cancelled wait announced before our last look, so any
            // publish since wakes it: wait for it rather than announcing twice.
            if self.sleeper.is_none() {
                let word = self.word;
                let (ticket, slice) = self.sleep().announce();
                let announced = Announced {
                    word,
                    done: Arc::new(Done::default()),
                };
                if let Some(v) = ready(ctx)? {
                    return Ok(v); // `announced` drops: withdrawn
                }
                let done = announced.done.clone();
                let handle = tokio::task::spawn_blocking(move || {
                    announced.word.get().sleep(ticket, Some(slice));
                    drop(announced);
                });
                self.sleeper = Some(Sleeper { handle, done });
            }
            if let Some(s) = self.sleeper.as_mut() {
                let _ = (&mut s.handle).await;
            }
            self.sleeper = None;
            after_sleep!(false);
        }
    }
}
