//! The waker's fence, excused while its sleeper polls.
//!
//! The wake protocol (module above) makes the publishing side pay a full fence between
//! "publish" and "read `waiters`" on every message, so that it and a sleeper announcing
//! itself cannot both miss each other. While the other side is polling rather than
//! sleeping, that fence protects nothing. An [`ExcuseWord`] beside a wake word lets the
//! side that sleeps on it say so:
//! - non-zero: "before I announce a sleep, I clear this word and issue a process-wide
//!   barrier" (`membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`): the publisher may skip its
//!   fence;
//! - zero (every segment made before it existed, every peer that cannot issue the barrier):
//!   the publisher fences, as the plain protocol says.
//!
//! Why that is enough: the publisher stores its record, *then* reads this word; only if it
//! is zero does it fence and read `waiters`. The barrier runs at one point of the
//! publisher's instruction stream, with everything before it visible and everything after
//! it ordered after the sleeper's clearing store. If the point falls after the record's
//! store, the sleeper's re-check (after the barrier) sees the record: no wake-up is needed,
//! so an excused publish reads nothing more. If it falls before, the publisher's read of
//! this word comes after the clearing store and sees zero, so it fences, and the plain
//! protocol's pairing of two fences applies.
//!
//! The barrier costs an inter-processor interrupt on every CPU that runs a registered
//! process (measured on the 2-vCPU reference guest: 9.4 µs with the peer spinning on the
//! other vCPU, 0.4 µs with it asleep), so it is paid once per switch from polling to
//! sleeping, never per sleep: the word is set when a side attaches and again when one of
//! its waits ends while it still polled (`ExcuseWord::give`), and cleared, with the
//! barrier, by the first sleep after that (`ExcuseWord::withdraw`). A pair that sleeps
//! on every message never sets it again after its first sleep; one whose waits alternate
//! between ending while polling and sleeping pays the barrier at every such sleep (measured
//! and not kept: giving only after 16 polling waits in a row, which cost the busy-poll
//! round trip 15-20 ns, 147 -> 167 ns, through the count kept in the handle).
//!
//! A process takes part only if it registered for the barrier ([`super::fences_excused`]); one that did
//! not (an old kernel, a sandbox filtering `membarrier`, miri, other systems) never sets
//! the word and never skips its fence. `IPCRING_NO_MEMBARRIER=1` in the environment turns
//! it off for the process (for measuring the fence's cost against the same binary).
//!
//! Under loom the barrier is a lock: the publisher holds it around its publish (the test
//! harness takes it), and `ExcuseWord::withdraw` takes and drops it, so every publish
//! falls wholly before or wholly after the barrier: what `membarrier` guarantees.

use crate::sync::{AtomicU32, Ordering};

/// A 32-bit word in shared memory beside a [`WakeWord`](crate::wake::WakeWord), written
/// only by the side that sleeps on that wake word: non-zero while it promises the barrier
/// before it sleeps (see the module docs).
#[repr(C)]
#[derive(Debug)]
pub struct ExcuseWord {
    /// Non-zero: the publisher may skip its fence.
    pub flag: AtomicU32,
    /// Under loom, the barrier is this lock (see the module docs).
    #[cfg(loom)]
    pub(crate) barrier: loom::sync::Mutex<()>,
}

/// True if this process takes part in excused fences: it registered for expedited
/// global barriers (once per process, at the first call), and `IPCRING_NO_MEMBARRIER` is
/// not set. Cheap after the first call.
pub(crate) fn enabled() -> bool {
    #[cfg(loom)]
    {
        true
    }
    #[cfg(not(loom))]
    {
        // Cached for the process. A forked child inherits the kernel's registration with
        // this cache (checked: a barrier issued from elsewhere took 10.6 µs with a spinning
        // child forked from a registered parent, 0.5 µs with an unregistered one: it got
        // the interrupt), and `exec` resets both.
        static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ENABLED.get_or_init(|| {
            std::env::var_os("IPCRING_NO_MEMBARRIER").is_none_or(|v| v.is_empty() || v == "0")
                && crate::sys::barrier::register()
        })
    }
}

impl ExcuseWord {
    /// A zeroed word for in-process models.
    #[cfg(any(test, loom))]
    pub(crate) fn new_model() -> ExcuseWord {
        ExcuseWord {
            flag: AtomicU32::new(0),
            #[cfg(loom)]
            barrier: loom::sync::Mutex::new(()),
        }
    }

    /// The publisher's question, after its record's store and before it reads `waiters`:
    /// may it skip the fence? `may_skip` is [`enabled`] for the publisher's process (kept
    /// by the caller, so the hot path reads no global).
    #[inline(always)]
    pub(crate) fn excused(&self, may_skip: bool) -> bool {
        // SYNC: Relaxed: no data rides on the word; the sleeper's barrier orders this read
        // after its clearing store or the record's store before its re-check (module docs).
        may_skip && self.flag.load(Ordering::Relaxed) != 0
    }

    /// The sleeping side's promise: called when it attaches and when a wait ends without
    /// having slept. Does nothing if this process cannot issue the barrier, or if the word
    /// is already set (so a side that keeps polling writes nothing).
    #[inline]
    pub(crate) fn give(&self) {
        // SYNC: Relaxed: the word only ever excuses a fence that protects a sleep, and
        // this side does not sleep before `withdraw` clears it with the barrier.
        // (In this order: testing the word first was measured to make the busy-poll
        // round trip 136 -> 162 ns, through the code of the spin loop this is inlined in.)
        if enabled() && self.flag.load(Ordering::Relaxed) == 0 {
            self.flag.store(1, Ordering::Relaxed);
        }
    }

    /// For the side that attaches (its role lock held, so no other side of its kind
    /// sleeps on the wake word): gives the promise if this process can keep it, else
    /// clears the word, which one killed while it polled may have left set.
    #[cold]
    pub(crate) fn reset(&self) {
        // SYNC: as in `give`; the attaching side has not announced any sleep yet.
        self.flag.store(u32::from(enabled()), Ordering::Relaxed);
    }

    /// Before announcing a sleep: withdraws the promise if it was given (clear, then the
    /// barrier), so the publisher fences again from here on. False if the barrier could not
    /// be issued after the word was set: then a publish may have skipped its fence and a
    /// wake-up may be missed, and the caller sleeps in short slices.
    #[inline]
    pub(crate) fn withdraw(&self) -> bool {
        // SYNC: Relaxed: only this side writes the word.
        if self.flag.load(Ordering::Relaxed) == 0 {
            return true;
        }
        // SYNC: Relaxed: the barrier below orders it against every publish (module docs).
        self.flag.store(0, Ordering::Relaxed);
        #[cfg(not(loom))]
        {
            crate::sys::barrier::global()
        }
        #[cfg(loom)]
        {
            drop(self.barrier.lock().unwrap());
            true
        }
    }
}
