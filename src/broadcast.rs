//! A broadcast ring in shared memory: one publisher, any number of subscribers in any
//! processes, each with its own cursor (the article's publish/subscribe, without a broker).
//!
//! ```
//! use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-bcdoc-{}", std::process::id());
//! let opts = BroadcastOptions::new().slots(4).max_message(64);
//! let mut tx = Publisher::create(&name, &opts)?;                       // process A
//! let mut a = Subscriber::open(&name, &opts.clone().start(Start::Oldest))?; // process B
//! let mut buf = Vec::new();
//!
//! for i in 0..6u8 {
//!     tx.publish(&[i; 3])?;                 // never waits: overwrites the oldest slot
//! }
//! // Only 4 slots: messages 0 and 1 were overwritten before `a` read them.
//! assert_eq!(a.try_recv_into(&mut buf)?, Recv::Lagged(2));
//! assert_eq!(a.try_recv_into(&mut buf)?, Recv::Message(2));
//! assert_eq!(buf, [2, 2, 2]);
//! # Ok(())
//! # }
//! ```
//!
//! # Protocol
//! The ring has `slots` fixed-size slots (a power of two); message number `i` (counting
//! from 0, forever) goes into slot `i & (slots - 1)`. A shared `head` counts the messages
//! published. Each slot starts with a *stamp*, a per-slot seqlock word:
//! `2i + 1` while message `i` is being written, `2i + 2` once it is complete.
//!
//! - publisher: stamp `2i + 1` (Relaxed), Release fence, length and payload words (Relaxed
//!   atomic stores), stamp `2i + 2` (Release), `head = i + 1` (Release), SeqCst fence,
//!   then a `FUTEX_WAKE` only if a subscriber sleeps. It never reads anything a subscriber
//!   writes, so it never waits.
//! - subscriber at `next`: load `head` (Acquire). If `head - next > slots`, the messages
//!   `next .. head - slots` are gone: [`Recv::Lagged`]`(head - slots - next)`, and the
//!   cursor moves to `head - slots`. Else it loads the slot's stamp (Acquire): it must be
//!   `2 next + 2`; it copies length and payload with Relaxed atomic loads, issues an
//!   Acquire fence and re-loads the stamp. Unchanged: the copy is message `next`. Changed
//!   (or already newer at the first look): the publisher lapped this subscriber while it
//!   read; the copy is thrown away, and the subscriber reports exactly how many messages
//!   it skips to reach the oldest one still held.
//!
//! So every message number is either delivered once, in order, or counted once in a
//! `Lagged`: delivered + lagged = published, for every subscriber. A message being
//! overwritten while it is read is never returned.
//!
//! # Copy-out only
//! The publisher never waits, so no slot is ever guaranteed stable while a subscriber
//! holds it: handing out a `&[u8]` into a slot would be a data race. Receives copy the
//! message into your buffer (bounded by `max_message`, so a hostile peer cannot make a
//! subscriber allocate more).
//!
//! # Waiting and liveness
//! Subscribers that find nothing new spin briefly, then sleep on one futex eventcount shared
//! by all of them (the ring's [`WakeWord`] protocol): a publish makes one `FUTEX_WAKE`
//! system call (waking every sleeper) when someone sleeps, none otherwise. The publisher
//! role is an exclusive record lock (a second publisher gets
//! [`Error::RoleTaken`]); subscribers hold a shared lock on
//! another byte. A blocked subscriber sees a dead publisher (even killed by SIGKILL) as
//! [`Error::Disconnected`] within
//! [`LIVENESS_SLICE`](crate::wake::LIVENESS_SLICE), after it has received everything
//! still held.

use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};
use crate::wake::WakeWord;
use crate::words::word_of;
use crate::{Error, Result};

/// Segment kind of a broadcast ring (in the common header's `kind` word).
pub const KIND_BROADCAST: u32 = crate::kinds::BROADCAST.id;
/// Size of the broadcast ring's header; the slots start here.
pub const BROADCAST_HEADER_SIZE: usize = 512;
/// Bytes in front of each slot's payload: the stamp word and the length word.
pub const SLOT_HEADER: usize = 16;
/// Slots are a multiple of this many bytes (one cache line), so the publisher writing one
/// slot does not disturb subscribers reading the one before it.
pub const SLOT_ALIGN: usize = 64;
/// The largest `max_message` accepted (1 MiB).
pub const MAX_MESSAGE_LIMIT: u32 = 1 << 20;
/// The most slots accepted (2^20).
pub const MAX_SLOTS: u32 = 1 << 20;
/// The largest data area accepted (slots × slot size): 4 GiB.
pub const MAX_DATA_SIZE: u64 = 1 << 32;
/// Offset of the geometry words in the segment.
pub(crate) const GEOMETRY_OFFSET: usize = 128;
/// Offset of the run-time shared words in the segment.
pub(crate) const SHARED_OFFSET: usize = 256;
/// The publisher's role (an exclusive lock) and the subscribers' (a shared one).
pub(crate) use crate::kinds::{PUBLISHER as PUBLISHER_ROLE, SUBSCRIBERS as SUBSCRIBERS_ROLE};

/// Size in bytes of one slot for messages of at most `max_message` bytes.
///
/// ```
/// assert_eq!(ipcring::broadcast::slot_size(64), 128);   // 16 + 64, rounded up to 64
/// assert_eq!(ipcring::broadcast::slot_size(48), 64);
/// ```
pub const fn slot_size(max_message: u32) -> usize {
    let raw = SLOT_HEADER + (max_message as usize).div_ceil(8) * 8;
    raw.div_ceil(SLOT_ALIGN) * SLOT_ALIGN
}

/// Geometry words of a broadcast ring (offset 128). Written by the creator before the
/// segment is published as ready; read-only afterwards except the attach counters.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct BroadcastGeometry {
    /// Number of slots; a power of two.
    pub slots: AtomicU32,
    /// Largest payload in bytes.
    pub max_message: AtomicU32,
    /// Bytes per slot: `slot_size(max_message)`.
    pub slot_size: AtomicU32,
    /// Offset of slot 0 from the start of the segment (= 512).
    pub data_offset: AtomicU32,
    /// Incremented by every publisher that attaches: 0 means none ever did.
    pub publisher_attaches: AtomicU32,
    /// Incremented by every subscriber that attaches (informational).
    pub subscriber_attaches: AtomicU32,
}

/// The words moved at run time (offset 256), each group on its own 128-byte line.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct BroadcastShared {
    /// Messages published so far (the number of the next one). Only grows.
    pub head: AtomicU64,
    _pad0: [u8; 120],
    /// Subscribers waiting for a message sleep here; the publisher wakes them.
    pub data_wake: WakeWord,
    _pad1: [u8; 120],
}

crate::kinds::shared_layout! {
    // SAFETY: repr(C) of atomics only: every bit pattern is valid, no pointers, and it
    // changes only through atomic operations.
    unsafe BroadcastGeometry {
        slots: 0, max_message: 4, slot_size: 8, data_offset: 12,
        publisher_attaches: 16, subscriber_attaches: 20,
    } size 24;
    // SAFETY: repr(C) of atomics (the `WakeWord` is two `AtomicU32`s outside loom) and
    // private `u8` padding that this crate never reads or writes: every bit pattern is
    // valid, no pointers, and every field this crate touches changes only through atomic
    // operations.
    unsafe BroadcastShared { head: 0, data_wake: 128 } size 256, align 8;
}

#[cfg(not(loom))]
const _: () = {
    use std::mem::size_of;
    assert!(GEOMETRY_OFFSET + size_of::<BroadcastGeometry>() <= SHARED_OFFSET);
    assert!(SHARED_OFFSET + size_of::<BroadcastShared>() == BROADCAST_HEADER_SIZE);
    assert!(BROADCAST_HEADER_SIZE % SLOT_ALIGN == 0);
    assert!(slot_size(MAX_MESSAGE_LIMIT) <= u32::MAX as usize);
};

impl BroadcastShared {
    /// A zeroed block for in-process models (loom, proptest).
    #[cfg(any(test, loom))]
    pub(crate) fn new_block() -> BroadcastShared {
        BroadcastShared {
            head: AtomicU64::new(0),
            _pad0: [0; 120],
            data_wake: WakeWord::new_model(),
            _pad1: [0; 120],
        }
    }
}

/// What one receive attempt produced.
///
/// ```
/// use ipcring::broadcast::Recv;
/// let r = Recv::Lagged(3);
/// assert_eq!(r.lagged(), 3);
/// assert_eq!(Recv::Message(7).lagged(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// A message was copied into the buffer; this is its number (messages are numbered
    /// from 0 in publication order, across publisher restarts).
    Message(u64),
    /// This many messages were overwritten before this subscriber read them: it lost
    /// them, and continues with the oldest message still held. The buffer is empty.
    Lagged(u64),
}

impl Recv {
    /// Messages lost (0 for a message).
    pub fn lagged(&self) -> u64 {
        match self {
            Recv::Message(_) => 0,
            Recv::Lagged(n) => *n,
        }
    }
}

/// Geometry of a ring, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geo {
    /// Number of slots; a power of two.
    pub slots: u64,
    /// Words per slot.
    pub slot_words: usize,
    /// Largest payload.
    pub max_message: u32,
}

impl Geo {
    #[inline(always)]
    pub(crate) fn slot_of(&self, index: u64) -> usize {
        (index & (self.slots - 1)) as usize
    }
}

/// Stamp of a slot while message `i` is being written into it.
#[inline(always)]
pub(crate) const fn stamp_writing(i: u64) -> u64 {
    // Wrapping: numbers below 2^63 (centuries at any real rate) never wrap; a hostile
    // head near 2^64 must not make the arithmetic panic.
    i.wrapping_mul(2).wrapping_add(1)
}

/// Stamp of a slot that holds the complete message `i`.
#[inline(always)]
pub(crate) const fn stamp_done(i: u64) -> u64 {
    i.wrapping_mul(2).wrapping_add(2)
}

/// The number of the newest message whose writing a stamp says has started (`None`: the
/// slot was never written).
#[inline(always)]
pub(crate) const fn started_by(stamp: u64) -> Option<u64> {
    if stamp == 0 {
        None
    } else {
        Some((stamp - 1) / 2)
    }
}

/// What a subscriber does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing new.
    Empty,
    /// Read message `index` from its slot.
    Read(u64),
    /// Messages `next .. resume` are gone: report `lost = resume - next`.
    Lagged { lost: u64, resume: u64 },
}

/// The index arithmetic of a subscriber at `next`, when `head` messages were published
/// into `slots` slots. `Err` if `head` is behind `next` (impossible unless corrupt).
#[inline]
pub(crate) fn plan(next: u64, head: u64, slots: u64) -> std::result::Result<Plan, ()> {
    if head < next {
        return Err(());
    }
    let ahead = head - next;
    if ahead == 0 {
        Ok(Plan::Empty)
    } else if ahead > slots {
        let resume = head - slots;
        Ok(Plan::Lagged {
            lost: resume - next,
            resume,
        })
    } else {
        Ok(Plan::Read(next))
    }
}

/// Where a subscriber resumes after finding message `next` overwritten: the slot's stamp
/// said `stamp` (newer than `stamp_done(next)`), and `head` is what it reads now. The
/// result is always past `next`, and never skips a message that is still held.
#[inline]
pub(crate) fn resume_after_overwrite(next: u64, stamp: u64, head: u64, slots: u64) -> u64 {
    // A message `j` writing into this slot means every message up to `j - slots` is gone
    // (their slots have been reused), and `head - slots` is the oldest held per `head`.
    let by_stamp = started_by(stamp).map_or(0, |j| (j + 1).saturating_sub(slots));
    let by_head = head.saturating_sub(slots);
    by_stamp.max(by_head).max(next.saturating_add(1))
}

/// The publisher's side over a raw block (no OS calls: loom and proptest run it).
#[derive(Debug)]
pub(crate) struct PublisherCore {
    /// Messages written (published or not).
    head: u64,
    /// What `head` in shared memory holds.
    published: u64,
    geo: Geo,
}

impl PublisherCore {
    /// Attaches, continuing the numbering where the last publisher left it. A message
    /// that a dead publisher was writing is written again by the next publish.
    pub(crate) fn attach(shared: &BroadcastShared, geo: Geo) -> PublisherCore {
        let h = shared.head.load(Ordering::Acquire);
        PublisherCore {
            head: h,
            published: h,
            geo,
        }
    }

    /// Messages published so far.
    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    /// Writes message number `head` into its slot (not yet visible through `head`).
    #[inline]
    pub(crate) fn write(&mut self, data: &[AtomicU64], msg: &[u8]) -> Result<()> {
        Error::check_len(msg.len(), self.geo.max_message as usize)?;
        let i = self.head;
        let base = self.geo.slot_of(i) * self.geo.slot_words;
        let slot = &data[base..base + self.geo.slot_words];
        slot[0].store(stamp_writing(i), Ordering::Relaxed);
        // SYNC: orders the "being written" stamp before the length and payload stores: a
        // subscriber whose loads see any of them sees this stamp (or a later one) after its
        // Acquire fence, and throws its copy away.
        fence(Ordering::Release);
        slot[1].store(msg.len() as u64, Ordering::Relaxed);
        let words = msg.len().div_ceil(8);
        for (k, w) in slot[2..2 + words].iter().enumerate() {
            w.store(word_of(msg, k), Ordering::Relaxed);
        }
        // SYNC: publishes length and payload to a subscriber that loads this stamp (Acquire).
        slot[0].store(stamp_done(i), Ordering::Release);
        self.head = i.wrapping_add(1);
        Ok(())
    }

    /// Makes every written message visible. Returns `true` if a subscriber sleeps and
    /// must be woken (the caller then calls `shared.data_wake.wake()`).
    #[inline]
    pub(crate) fn flush(&mut self, shared: &BroadcastShared) -> bool {
        if self.head == self.published {
            return false;
        }
        // SYNC: Release publishes the slots written above (their stamps and contents) to a
        // subscriber that loads `head` with Acquire.
        shared.head.store(self.head, Ordering::Release);
        self.published = self.head;
        // SYNC: store-load barrier between `head` and `waiters`, paired with the fence in
        // `WakeWord::prepare_wait`: either we see the sleeper, or its re-check sees `head`.
        fence(Ordering::SeqCst);
        shared.data_wake.waiters.load(Ordering::Relaxed) != 0
    }
}

/// A subscriber's side over a raw block: its private cursor.
#[derive(Debug)]
pub(crate) struct SubscriberCore {
    /// Number of the next message to deliver.
    next: u64,
    geo: Geo,
}

impl SubscriberCore {
    /// A subscriber whose next message is number `next`.
    pub(crate) fn at(next: u64, geo: Geo) -> SubscriberCore {
        SubscriberCore { next, geo }
    }

    /// Number of the next message this subscriber will deliver.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// One receive attempt. `Ok(None)`: nothing new. On `Message`, `buf` holds it; on
    /// `Lagged`, `buf` is empty and the cursor has moved past the lost messages.
    pub(crate) fn try_recv(
        &mut self,
        shared: &BroadcastShared,
        data: &[AtomicU64],
        buf: &mut Vec<u8>,
    ) -> Result<Option<Recv>> {
        // SYNC: Acquire pairs with the publisher's Release store of `head`: the stamps of
        // every message below it are visible.
        let head = shared.head.load(Ordering::Acquire);
        let index = match plan(self.next, head, self.geo.slots) {
            Err(()) => {
                return Err(Error::corrupt(format!(
                    "broadcast head {head} is behind a subscriber at message {}",
                    self.next
                )))
            }
            Ok(Plan::Empty) => return Ok(None),
            Ok(Plan::Lagged { lost, resume }) => {
                buf.clear();
                self.next = resume;
                return Ok(Some(Recv::Lagged(lost)));
            }
            Ok(Plan::Read(i)) => i,
        };
        let base = self.geo.slot_of(index) * self.geo.slot_words;
        let slot = &data[base..base + self.geo.slot_words];
        let want = stamp_done(index);
        // SYNC: Acquire pairs with the publisher's Release store of this stamp: the length
        // and payload of message `index` are visible to the loads below.
        let s1 = slot[0].load(Ordering::Acquire);
        let seen = if s1 == want {
            let len_word = slot[1].load(Ordering::Relaxed);
            // A torn length is only trusted after the stamp check; clamp the copy first.
            let len = len_word.min(self.geo.max_message as u64) as usize;
            buf.clear();
            buf.resize(len, 0);
            let words = len.div_ceil(8);
            for (k, w) in slot[2..2 + words].iter().enumerate() {
                let v = w.load(Ordering::Relaxed).to_le_bytes();
                let start = k * 8;
                let n = (len - start).min(8);
                buf[start..start + n].copy_from_slice(&v[..n]);
            }
            // SYNC: pairs with the publisher's Release fence after its "being written"
            // stamp: if a load above saw a newer message's bytes, the re-load sees it.
            fence(Ordering::Acquire);
            let s2 = slot[0].load(Ordering::Relaxed);
            if s2 == s1 {
                if len_word > self.geo.max_message as u64 {
                    buf.clear();
                    return Err(Error::corrupt(format!(
                        "broadcast message {index} claims {len_word} bytes, max is {}",
                        self.geo.max_message
                    )));
                }
                self.next = index.wrapping_add(1);
                return Ok(Some(Recv::Message(index)));
            }
            s2
        } else if s1 < want {
            return Err(Error::corrupt(format!(
                "broadcast slot stamp {s1} is behind published message {index}"
            )));
        } else {
            s1
        };
        // Lapped: the slot was reused while (or before) we read it.
        buf.clear();
        let head = shared.head.load(Ordering::Acquire);
        let resume = resume_after_overwrite(index, seen, head, self.geo.slots);
        self.next = resume;
        Ok(Some(Recv::Lagged(resume.saturating_sub(index).max(1))))
    }
}

#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
pub use handle::*;
#[cfg(not(loom))]
mod typed;
#[cfg(not(loom))]
pub use typed::Received;

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", not(loom)))]
mod tokio;
#[cfg(all(feature = "async", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::AsyncSubscriber;

#[cfg(all(test, not(loom)))]
mod tests_model;

#[cfg(all(test, loom))]
mod tests_loom {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// A block of 2 slots of `slot_words` words each, for messages of up to `max_message`
    /// bytes, with its geometry.
    fn block(
        slot_words: usize,
        max_message: u32,
    ) -> (Geo, Arc<BroadcastShared>, Arc<Vec<AtomicU64>>) {
        let geo = Geo {
            slots: 2,
            slot_words,
            max_message,
        };
        let data = (0..2 * slot_words).map(|_| AtomicU64::new(0)).collect();
        (geo, Arc::new(BroadcastShared::new_block()), Arc::new(data))
    }

    /// The publisher's whole publish: write, flush, wake the sleepers if any.
    fn publish(core: &mut PublisherCore, shared: &BroadcastShared, data: &[AtomicU64], msg: &[u8]) {
        core.write(data, msg).unwrap();
        if core.flush(shared) {
            shared.data_wake.wake();
        }
    }

    /// 2 slots, 16-byte messages whose two words both carry the message number. The
    /// publisher publishes 3 (so it laps slot 0); a subscriber at 0 receives concurrently.
    /// Every message returned must be whole and carry its number; lag is counted exactly.
    #[test]
    fn publish_vs_lagging_subscriber() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(4);
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        b.check(|| {
            RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (geo, shared, data) = block(4, 16);
            // Attach before spawning: loom explores fewer schedules than it should when a
            // thread's first operation is a load (seen with loom 0.7), so each thread here
            // starts with a store.
            let mut core = PublisherCore::attach(&shared, geo);
            let p = {
                let (shared, data) = (shared.clone(), data.clone());
                thread::spawn(move || {
                    for i in 0..3u64 {
                        let mut m = [0u8; 16];
                        m[..8].copy_from_slice(&i.to_le_bytes());
                        m[8..].copy_from_slice(&i.to_le_bytes());
                        publish(&mut core, &shared, &data, &m);
                    }
                })
            };
            let mut sub = SubscriberCore::at(0, geo);
            let mut buf = Vec::new();
            let (mut delivered, mut lagged) = (0u64, 0u64);
            let mut expect = 0u64;
            let mut check = |r: Recv, buf: &[u8], expect: &mut u64| match r {
                Recv::Message(i) => {
                    assert_eq!(i, *expect, "out of order");
                    assert_eq!(buf.len(), 16);
                    let a = u64::from_le_bytes(buf[..8].try_into().unwrap());
                    let b = u64::from_le_bytes(buf[8..].try_into().unwrap());
                    assert_eq!((a, b), (i, i), "torn message returned");
                    *expect += 1;
                    delivered += 1;
                }
                Recv::Lagged(n) => {
                    assert!(n > 0);
                    *expect += n;
                    lagged += n;
                }
            };
            for _ in 0..3 {
                if let Some(r) = sub.try_recv(&shared, &data, &mut buf).unwrap() {
                    check(r, &buf, &mut expect);
                }
            }
            p.join().unwrap();
            while let Some(r) = sub.try_recv(&shared, &data, &mut buf).unwrap() {
                check(r, &buf, &mut expect);
            }
            assert_eq!(expect, 3);
            assert_eq!(delivered + lagged, 3, "lagged + delivered != published");
            // The last two messages are still held once the publisher stopped.
            assert!(delivered >= 2);
        });
        eprintln!(
            "broadcast loom model: {} executions",
            RUNS.load(std::sync::atomic::Ordering::Relaxed)
        );
    }

    /// A subscriber asleep on the shared eventcount is always woken by a publish (a lost
    /// wakeup would be a loom deadlock), and then receives the message.
    #[test]
    fn blocked_subscriber_is_woken() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let (geo, shared, data) = block(3, 8);
            let mut core = PublisherCore::attach(&shared, geo);
            let p = {
                let (shared, data) = (shared.clone(), data.clone());
                thread::spawn(move || publish(&mut core, &shared, &data, b"hi"))
            };
            let mut sub = SubscriberCore::at(0, geo);
            let mut buf = Vec::new();
            let wake = &shared.data_wake;
            let got = loop {
                if let Some(r) = sub.try_recv(&shared, &data, &mut buf).unwrap() {
                    break r;
                }
                let (ticket, _) = wake.prepare_wait();
                if let Some(r) = sub.try_recv(&shared, &data, &mut buf).unwrap() {
                    wake.cancel_wait();
                    break r;
                }
                wake.sleep(ticket, None);
                wake.cancel_wait();
            };
            assert_eq!(got, Recv::Message(0));
            assert_eq!(buf, b"hi");
            p.join().unwrap();
        });
    }
}
