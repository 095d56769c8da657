//! A latest-value cell in shared memory: one writer, any number of readers in any number
//! of processes (the article's "shared memory" programs, done right).
//!
//! The cell holds one value of a [`bytemuck::Pod`] type `T` (at most [`MAX_VALUE_SIZE`]
//! bytes) and a sequence counter. The writer never waits for anybody; a reader always gets
//! a consistent snapshot (never a mix of two writes), and can block until the value
//! changes.
//!
//! ```
//! use std::time::Duration;
//! use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-seqdoc-{}", std::process::id());
//! let opts = SeqlockOptions::new();
//! let mut w = Writer::<[u64; 4]>::create(&name, &opts)?;   // process A
//! let r = Reader::<[u64; 4]>::open(&name, &opts)?;         // process B (any number of them)
//!
//! assert_eq!(r.read()?.version, 0);                         // never written: all zeroes
//! w.write(&[1, 2, 3, 4]);
//! w.write(&[5, 6, 7, 8]);
//! let snap = r.read()?;
//! assert_eq!(snap.value, [5, 6, 7, 8]);
//! assert_eq!(snap.version, 2);                              // two writes so far
//!
//! // Block until a write newer than version 2 lands (here: none does).
//! assert!(matches!(r.wait_changed(2, Duration::from_millis(1)), Err(ipcring::Error::Timeout)));
//! # Ok(())
//! # }
//! ```
//!
//! # Protocol
//! The classic seqlock, written with the fence pattern that makes it sound in the C++/Rust
//! memory model (H.-J. Boehm, "Can seqlocks get along with programming language memory
//! models?", 2012):
//!
//! - writer: `seq = odd` (Relaxed), Release fence, store every payload word (Relaxed
//!   atomic stores), `seq = odd + 1` (Release);
//! - reader: `s1 = seq` (Acquire); if odd, the writer is busy: retry; load every payload
//!   word (Relaxed atomic loads) into a private copy; Acquire fence; `s2 = seq` (Relaxed);
//!   the copy is consistent if and only if `s1 == s2`.
//!
//! Every access to the payload is an atomic word access, so a reader that races the
//! writer reads a mix of old and new words (which it then throws away), never undefined
//! behaviour. No reference into the shared payload is ever handed out.
//!
//! The **version** of a value is the number of writes completed when it was written
//! (`seq / 2`): version 0 is the zeroed initial value, and a reader that saw version `a`
//! and then `b` missed `b - a - 1` updates ([`Snapshot::missed_since`]).
//!
//! # Waiting
//! [`Reader::wait_changed`] spins briefly, then sleeps on a futex eventcount (the ring's
//! [`WakeWord`] protocol). The writer, after each write,
//! issues one fence and reads the sleeper count: it makes the `FUTEX_WAKE` system call
//! only when a reader sleeps, so a write with nobody waiting is a few stores.
//!
//! # Liveness
//! The writer role is an exclusive record lock on byte 0 of the segment (a second writer
//! gets [`Error::RoleTaken`](crate::Error::RoleTaken)); readers hold a shared lock on byte 1, so a segment in use
//! by readers only is not taken for a stale leftover. A writer that dies (even by
//! SIGKILL) is seen by a reader blocked in `wait_changed` as [`Error::Disconnected`](crate::Error::Disconnected) within
//! [`LIVENESS_SLICE`](crate::wake::LIVENESS_SLICE); the last value stays readable. A new
//! writer may attach with [`Writer::open`] and continue the versions.

use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};
use crate::wake::WakeWord;

/// Segment kind of a seqlock cell (in the common header's `kind` word).
pub const KIND_SEQLOCK: u32 = crate::kinds::SEQLOCK.id;
/// Size of the seqlock's header; the value's words start here.
pub const SEQLOCK_HEADER_SIZE: usize = 512;
/// The largest value a cell holds, in bytes (1 MiB). Reads and writes copy the whole value,
/// so large values cost proportionally; a writer that rewrites a large value continuously
/// can keep a reader retrying (a reader's copy must fit between two writes).
pub const MAX_VALUE_SIZE: usize = 1 << 20;
/// Offset of the geometry words in the segment.
pub(crate) const GEOMETRY_OFFSET: usize = 128;
/// Offset of the run-time shared words in the segment.
pub(crate) const SHARED_OFFSET: usize = 256;
/// The writer's role (an exclusive lock) and the readers' (a shared one).
pub(crate) use crate::kinds::{READERS as READERS_ROLE, WRITER as WRITER_ROLE};

/// Words a value of `size` bytes occupies in the cell (whole 8-byte words).
///
/// ```
/// assert_eq!(ipcring::seqlock::value_words(12), 2);
/// ```
pub const fn value_words(size: usize) -> usize {
    size.div_ceil(8)
}

/// Geometry words of a cell (offset 128). Written by the creator before the segment is
/// published as ready; read-only afterwards except the attach counters.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct SeqlockGeometry {
    /// `size_of::<T>()` of the value type.
    pub value_size: AtomicU32,
    /// Payload words: `value_words(value_size)`.
    pub value_words: AtomicU32,
    /// A user-chosen tag naming the value type (default 0); openers must present the same.
    pub type_tag: AtomicU64,
    /// Incremented by every writer that attaches: 0 means none ever did.
    pub writer_attaches: AtomicU32,
    /// Incremented by every reader that attaches (informational).
    pub reader_attaches: AtomicU32,
}

/// The words the writer and readers move at run time (offset 256), each on its own
/// 128-byte line.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct SeqlockShared {
    /// The sequence: odd while a write is in progress; `seq / 2` writes completed.
    pub seq: AtomicU64,
    _pad0: [u8; 120],
    /// Readers in `wait_changed` sleep here; the writer wakes them.
    pub changed: WakeWord,
    _pad1: [u8; 120],
}

crate::kinds::shared_layout! {
    // SAFETY: repr(C) of atomics only: every bit pattern is valid, no pointers, and it
    // changes only through atomic operations.
    unsafe SeqlockGeometry {
        value_size: 0, value_words: 4, type_tag: 8, writer_attaches: 16, reader_attaches: 20,
    } size 24;
    // SAFETY: repr(C) of atomics (the `WakeWord` is two `AtomicU32`s outside loom) and
    // private `u8` padding that this crate never reads or writes: every bit pattern is
    // valid, no pointers, and every field this crate touches changes only through atomic
    // operations.
    unsafe SeqlockShared { seq: 0, changed: 128 } size 256, align 8;
}

#[cfg(not(loom))]
const _: () = {
    use std::mem::size_of;
    assert!(GEOMETRY_OFFSET + size_of::<SeqlockGeometry>() <= SHARED_OFFSET);
    assert!(SHARED_OFFSET + size_of::<SeqlockShared>() == SEQLOCK_HEADER_SIZE);
    assert!(SEQLOCK_HEADER_SIZE % 8 == 0);
    assert!(MAX_VALUE_SIZE / 8 <= u32::MAX as usize);
};

impl SeqlockShared {
    /// A zeroed block for in-process models (loom).
    #[cfg(loom)]
    pub(crate) fn new_model() -> SeqlockShared {
        SeqlockShared {
            seq: AtomicU64::new(0),
            _pad0: [0; 120],
            changed: WakeWord::new_model(),
            _pad1: [0; 120],
        }
    }
}

/// The writer's side of the protocol over a raw block (no OS calls: loom runs it).
#[derive(Debug)]
pub(crate) struct WriterCore {
    /// The writer's copy of `seq` (it is the only one that stores it).
    seq: u64,
}

impl WriterCore {
    /// Attaches a writer, continuing the sequence where the last writer left it. If that
    /// writer died in the middle of a write (`seq` odd), the next write completes it.
    pub(crate) fn attach(shared: &SeqlockShared) -> WriterCore {
        WriterCore {
            seq: shared.seq.load(Ordering::Acquire),
        }
    }

    /// Version of the last completed write.
    pub(crate) fn version(&self) -> u64 {
        self.seq / 2
    }

    /// Writes `word(i)` into every payload word. Returns `true` if a reader sleeps and
    /// must be woken (the caller then calls `shared.changed.wake()`).
    #[inline]
    pub(crate) fn write(
        &mut self,
        shared: &SeqlockShared,
        words: &[AtomicU64],
        mut word: impl FnMut(usize) -> u64,
    ) -> bool {
        let begin = self.seq | 1;
        shared.seq.store(begin, Ordering::Relaxed);
        // SYNC: orders the odd `seq` store before every payload store below: a reader whose
        // Relaxed load sees one of them, and then issues its Acquire fence, reads `seq >=
        // begin` on its second look, so it throws that copy away.
        fence(Ordering::Release);
        for (i, w) in words.iter().enumerate() {
            w.store(word(i), Ordering::Relaxed);
        }
        // Wrapping: only a hostile `seq` near 2^64 could get there; never panic on it.
        let end = begin.wrapping_add(1);
        // SYNC: publishes the payload stores to a reader that loads `seq == end` (Acquire).
        shared.seq.store(end, Ordering::Release);
        self.seq = end;
        // SYNC: store-load barrier between the `seq` store and the load of `waiters`,
        // paired with the fence in `WakeWord::prepare_wait`: either we see the sleeper's
        // announcement, or its re-check sees our write.
        fence(Ordering::SeqCst);
        shared.changed.waiters.load(Ordering::Relaxed) != 0
    }
}

/// Result of one read attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A consistent copy of the value written with sequence `seq` (even).
    Ok(u64),
    /// A write is in progress (`seq` odd); nothing was copied.
    Busy,
    /// A write overlapped the copy: the copy is torn and must be thrown away.
    Torn,
}

/// One reader attempt: hands every payload word to `sink` and says whether the words
/// handed over form one consistent value.
#[inline]
pub(crate) fn try_read_words(
    shared: &SeqlockShared,
    words: &[AtomicU64],
    mut sink: impl FnMut(usize, u64),
) -> Attempt {
    // SYNC: Acquire pairs with the writer's Release store of the even `seq`: the payload
    // of that write (and every earlier one) is visible to the loads below.
    let s1 = shared.seq.load(Ordering::Acquire);
    if s1 & 1 == 1 {
        return Attempt::Busy;
    }
    for (i, w) in words.iter().enumerate() {
        sink(i, w.load(Ordering::Relaxed));
    }
    // SYNC: pairs with the writer's Release fence after its odd store: if any load above
    // saw a word of a later write, the load of `seq` below sees that write's odd value.
    fence(Ordering::Acquire);
    let s2 = shared.seq.load(Ordering::Relaxed);
    if s1 == s2 {
        Attempt::Ok(s1)
    } else {
        Attempt::Torn
    }
}

#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
pub use handle::*;

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", not(loom)))]
mod tokio;
#[cfg(all(feature = "async", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::AsyncReader;

#[cfg(all(test, loom))]
mod tests_loom {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two words per value; write k stores [k, k]. A returned copy must have equal words
    /// and the version must match the words: never a mix of two writes.
    #[test]
    fn writer_vs_two_readers_never_torn() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        b.check(|| {
            RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let shared = Arc::new(SeqlockShared::new_model());
            let words: Arc<Vec<AtomicU64>> = Arc::new((0..2).map(|_| AtomicU64::new(0)).collect());
            // Attach before spawning: loom explores fewer schedules than it should when a
            // spawned thread's first operation is a load (seen with loom 0.7).
            let mut core = WriterCore::attach(&shared);
            let w = {
                let (shared, words) = (shared.clone(), words.clone());
                thread::spawn(move || {
                    for k in 1..=2u64 {
                        if core.write(&shared, &words, |_| k) {
                            shared.changed.wake();
                        }
                    }
                    assert_eq!(core.version(), 2);
                })
            };
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let (shared, words) = (shared.clone(), words.clone());
                    thread::spawn(move || {
                        let mut last = 0;
                        for _ in 0..1 {
                            let mut copy = [u64::MAX; 2];
                            match try_read_words(&shared, &words, |i, v| copy[i] = v) {
                                Attempt::Ok(seq) => {
                                    assert_eq!(seq % 2, 0);
                                    assert_eq!(copy[0], copy[1], "torn copy returned");
                                    assert_eq!(copy[0], seq / 2, "value does not match version");
                                    assert!(seq / 2 >= last, "version went backwards");
                                    last = seq / 2;
                                }
                                Attempt::Busy | Attempt::Torn => {}
                            }
                        }
                    })
                })
                .collect();
            w.join().unwrap();
            for r in readers {
                r.join().unwrap();
            }
            // After the writer is done, a read always succeeds with the last value.
            let mut copy = [0u64; 2];
            assert_eq!(
                try_read_words(&shared, &words, |i, v| copy[i] = v),
                Attempt::Ok(4)
            );
            assert_eq!(copy, [2, 2]);
        });
        let runs = RUNS.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("seqlock loom model: {runs} executions");
    }

    /// A reader sleeping in the eventcount is never left asleep after a write: the
    /// writer's "store seq, SeqCst fence, read waiters" against the reader's "announce,
    /// fence, re-check" (a lost wakeup would be a loom deadlock).
    #[test]
    fn wait_changed_has_no_lost_wakeup() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let shared = Arc::new(SeqlockShared::new_model());
            let words: Arc<Vec<AtomicU64>> = Arc::new(vec![AtomicU64::new(0)]);
            let mut core = WriterCore::attach(&shared);
            let w = {
                let (shared, words) = (shared.clone(), words.clone());
                thread::spawn(move || {
                    if core.write(&shared, &words, |_| 9) {
                        shared.changed.wake();
                    }
                })
            };
            let changed = &shared.changed;
            loop {
                if shared.seq.load(Ordering::Acquire) / 2 > 0 {
                    break;
                }
                let (ticket, _) = changed.prepare_wait();
                if shared.seq.load(Ordering::Acquire) / 2 > 0 {
                    changed.cancel_wait();
                    break;
                }
                changed.sleep(ticket, None);
                changed.cancel_wait();
            }
            let mut v = 0;
            assert_eq!(
                try_read_words(&shared, &words, |_, x| v = x),
                Attempt::Ok(2)
            );
            assert_eq!(v, 9);
            w.join().unwrap();
        });
    }
}
