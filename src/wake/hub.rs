//! One thread per process that sleeps on every wake word a task waits on, with
//! `futex_waitv(2)` (Linux 5.16+, up to 128 words per call): so waiting tasks cost one
//! thread in all, not one each. Where the call is missing (older kernels, seccomp), or 127
//! words are already waited on, callers fall back to a blocking-pool thread per wait
//! (`crate::wake::tokio`).
//!
//! Protocol: a task announces itself on the ring's wake word exactly as a blocking waiter
//! does, then registers (word, ticket, its waker, a deadline) here and bumps the hub's own
//! control word, which the thread also waits on, so it picks up the new list. The thread
//! wakes when any word is woken or differs, or the earliest deadline passes; it then fires
//! (wakes the task of) every entry whose word no longer holds its ticket or whose deadline
//! passed. The task re-checks its condition, as after any sleep.
//!
//! Memory: the thread reads a word only under the registry lock and only while its entry is
//! registered; a task removes its entry (under the lock) before its ring handle, and so the
//! mapping, can go away. The kernel may still have the address queued in a `futex_waitv`
//! after that: it only reads words when the call starts, so a stale address costs at most a
//! spurious wake-up (the removal bumps the control word to end that call promptly).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::sys::waitv::{wait_any, Waited, WaitvEntry, MAX_WORDS};
use crate::wake::ptr::WordPtr;

#[derive(Debug)]
struct Entry {
    word: WordPtr,
    ticket: u32,
    deadline: Instant,
    waker: Waker,
    fired: bool,
}

/// The process's waker thread and its registry.
#[derive(Debug)]
pub(crate) struct Hub {
    entries: Mutex<HashMap<u64, Entry>>,
    /// Bumped on every registration change; the thread waits on it too.
    ctl: AtomicU32,
    next: AtomicU64,
    /// Set if the thread found `futex_waitv` unusable after all: callers fall back.
    broken: AtomicBool,
}

static HUB: OnceLock<Option<&'static Hub>> = OnceLock::new();

/// The hub, started on first use; `None` where `futex_waitv` is unavailable.
pub(crate) fn hub() -> Option<&'static Hub> {
    let h = (*HUB.get_or_init(start))?;
    (!h.broken.load(Ordering::Relaxed)).then_some(h)
}

fn start() -> Option<&'static Hub> {
    let hub: &'static Hub = Box::leak(Box::new(Hub {
        entries: Mutex::new(HashMap::new()),
        ctl: AtomicU32::new(0),
        next: AtomicU64::new(0),
        broken: AtomicBool::new(false),
    }));
    // Probe: a wait whose word already differs returns at once (EAGAIN) where the call
    // exists.
    if wait_any(&[WaitvEntry::new(&hub.ctl, 1)], Some(Duration::ZERO)) == Waited::Unsupported {
        return None;
    }
    std::thread::Builder::new()
        .name("ipcring-async-waker".into())
        .spawn(move || hub.run())
        .ok()?;
    Some(hub)
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kick(&self) {
        self.ctl.fetch_add(1, Ordering::Release);
        crate::sys::futex::wake_all(&self.ctl);
    }

    fn run(&'static self) {
        let mut list: Vec<WaitvEntry> = Vec::with_capacity(MAX_WORDS);
        loop {
            // SYNC: Acquire pairs with the Release bump in `kick`: a registration made
            // before it is in the map we lock next.
            let c = self.ctl.load(Ordering::Acquire);
            list.clear();
            list.push(WaitvEntry::new(&self.ctl, c));
            let now = Instant::now();
            let mut earliest: Option<Instant> = None;
            {
                let mut g = self.lock();
                for e in g.values_mut().filter(|e| !e.fired) {
                    let w = e.word.get();
                    // SYNC: Acquire pairs with the waker's Release bump of `seq`.
                    if w.seq.load(Ordering::Acquire) != e.ticket || e.deadline <= now {
                        e.fired = true;
                        e.waker.wake_by_ref();
                        continue;
                    }
                    if list.len() < MAX_WORDS {
                        list.push(WaitvEntry::new(&w.seq, e.ticket));
                    }
                    earliest = Some(earliest.map_or(e.deadline, |d| d.min(e.deadline)));
                }
            }
            let timeout = earliest.map(|d| d.saturating_duration_since(Instant::now()));
            // Every address was read above under the lock from a registered entry (a live
            // word) or is our own control word.
            if wait_any(&list, timeout) == Waited::Unsupported {
                self.broken.store(true, Ordering::Relaxed);
                for e in self.lock().values_mut() {
                    e.fired = true;
                    e.waker.wake_by_ref();
                }
                return;
            }
        }
    }

    /// Registers a task waiting while `word`'s `seq` holds `ticket`, until `deadline` at
    /// the latest. `None` when the hub is full (the caller falls back).
    pub(crate) fn register(
        &'static self,
        word: WordPtr,
        ticket: u32,
        deadline: Instant,
        waker: &Waker,
    ) -> Option<Registration> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        {
            let mut g = self.lock();
            if g.len() >= MAX_WORDS - 1 {
                return None;
            }
            g.insert(
                key,
                Entry {
                    word,
                    ticket,
                    deadline,
                    waker: waker.clone(),
                    fired: false,
                },
            );
        }
        self.kick();
        Some(Registration { hub: self, key })
    }
}

/// A registered wait; dropping it unregisters.
#[derive(Debug)]
pub(crate) struct Registration {
    hub: &'static Hub,
    key: u64,
}

impl Registration {
    /// Ready once the word changed or the deadline passed (or the hub stopped).
    pub(crate) fn poll_fired(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.hub.lock();
        let Some(e) = g.get_mut(&self.key).filter(|e| !e.fired) else {
            return Poll::Ready(());
        };
        if !e.waker.will_wake(cx.waker()) {
            e.waker = cx.waker().clone();
        }
        Poll::Pending
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.key);
        self.hub.kick();
    }
}
