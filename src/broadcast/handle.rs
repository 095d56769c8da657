//! Publisher and Subscriber handles over a named segment.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{
    slot_size, BroadcastGeometry, BroadcastShared, Geo, PublisherCore, Recv, SubscriberCore,
    BROADCAST_HEADER_SIZE, GEOMETRY_OFFSET, MAX_DATA_SIZE, MAX_MESSAGE_LIMIT, MAX_SLOTS,
    PUBLISHER_ROLE, SHARED_OFFSET, SUBSCRIBERS_ROLE,
};
use crate::segment::{self, Held, Segment, SegmentInfo, SegmentOptions};
use crate::sys::Mapping;
use crate::transport::{Deadline, Receiver, Sender};
use crate::wake::WaitStrategy;
use crate::wake::{wait_for, Limit};
use crate::{Error, Result, TryRecvError};

/// Where a new subscriber starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// With the newest message already published, if any, then everything after it
    /// (the default: a late subscriber gets the current state at once).
    #[default]
    Newest,
    /// With the oldest message still held (up to `slots` messages of history).
    Oldest,
    /// With the first message published after it attached.
    Next,
}

/// How to create or open a broadcast ring.
///
/// ```
/// use std::time::Duration;
/// use ipcring::broadcast::{BroadcastOptions, Start};
/// let opts = BroadcastOptions::new()
///     .slots(1024)                     // messages held, a power of two
///     .max_message(256)                // bytes
///     .start(Start::Oldest)            // for subscribers
///     .open_timeout(Duration::from_secs(30));
/// assert_eq!(opts.get_slots(), 1024);
/// ```
#[derive(Debug, Clone)]
pub struct BroadcastOptions {
    slots: u32,
    max_message: u32,
    seg: SegmentOptions,
    start: Start,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        BroadcastOptions {
            slots: 1024,
            max_message: 1024,
            seg: SegmentOptions::default(),
            start: Start::Newest,
        }
    }
}

impl BroadcastOptions {
    /// Defaults: 1024 slots of at most 1024-byte messages, mode 0600, unlink on drop, no
    /// reclaiming, [`WaitStrategy::default`], open timeout 5 s, [`Start::Newest`].
    pub fn new() -> Self {
        Self::default()
    }

    crate::builder::setters! {
        /// Number of slots: how many messages the ring holds (a power of two, 2 ..= 2^20).
        /// Used by `create` only.
        slots(n: u32);

        /// Largest message in bytes (1 ..= 1 MiB). Used by `create` only.
        max_message(bytes: u32);

        /// Where a subscriber opened with these options starts (default [`Start::Newest`]).
        start(start: Start);
    }

    segment::segment_option_methods!(
        "How blocking receives wait (default: spin 20 µs, then sleep on the futex)."
    );

    /// The number of slots set.
    pub fn get_slots(&self) -> u32 {
        self.slots
    }

    fn check(&self) -> Result<()> {
        let (n, m) = (self.slots, self.max_message);
        if !n.is_power_of_two() || !(2..=MAX_SLOTS).contains(&n) {
            return Err(Error::InvalidConfig(
                format!("slots {n} is not a power of two in 2 ..= {MAX_SLOTS}").into(),
            ));
        }
        if !(1..=MAX_MESSAGE_LIMIT).contains(&m) {
            return Err(Error::InvalidConfig(
                format!("max_message {m} is outside 1 ..= {MAX_MESSAGE_LIMIT} bytes").into(),
            ));
        }
        let data = n as u64 * slot_size(m) as u64;
        if data > MAX_DATA_SIZE {
            return Err(Error::InvalidConfig(
                format!("{n} slots of {} bytes need {data} bytes, more than the {MAX_DATA_SIZE}-byte limit", slot_size(m)).into(),
            ));
        }
        Ok(())
    }
}

/// The attached ring: the segment and its geometry, as validated at open (or chosen at
/// create): the mapping holds the header plus `geo.slots * geo.slot_words` words.
#[derive(Debug)]
struct Attached {
    /// The segment with its run-time words and slot words, found once at attach.
    seg: Held<BroadcastShared>,
    geo: Geo,
    wait: WaitStrategy,
}

/// The geometry words. Every broadcast mapping is at least BROADCAST_HEADER_SIZE bytes
/// (the creator maps that much, `validate` checks it before calling this).
fn geometry_of(map: &Mapping) -> &BroadcastGeometry {
    map.at(GEOMETRY_OFFSET)
}

/// Checks the ring's header against the mapping and returns the geometry it read, once:
/// the handle keeps these values, so a peer rewriting the header after the check cannot
/// make the handle index past its mapping.
fn validate(map: &Mapping, shown: &str) -> Result<Geo> {
    let bad = segment::bad(shown);
    segment::check_header_size(map, "broadcast", BROADCAST_HEADER_SIZE).map_err(bad)?;
    let g = geometry_of(map);
    let n = g.slots.load(Ordering::Relaxed);
    let m = g.max_message.load(Ordering::Relaxed);
    let ss = g.slot_size.load(Ordering::Relaxed) as usize;
    let off = g.data_offset.load(Ordering::Relaxed) as usize;
    if !n.is_power_of_two() || !(2..=MAX_SLOTS).contains(&n) {
        return Err(bad(format!(
            "slots {n} is not a power of two in 2 ..= {MAX_SLOTS}"
        )));
    }
    if !(1..=MAX_MESSAGE_LIMIT).contains(&m) || ss != slot_size(m) {
        return Err(bad(format!(
            "max message {m} / slot size {ss} inconsistent"
        )));
    }
    if off != BROADCAST_HEADER_SIZE {
        return Err(bad(format!(
            "data offset {off} (expected {BROADCAST_HEADER_SIZE})"
        )));
    }
    let want = BROADCAST_HEADER_SIZE as u64 + n as u64 * ss as u64;
    if want != map.len() as u64 {
        return Err(bad(format!(
            "{n} slots of {ss} bytes need a {want}-byte segment, the file has {}",
            map.len()
        )));
    }
    Ok(Geo {
        slots: n as u64,
        slot_words: ss / 8,
        max_message: m,
    })
}

impl Attached {
    fn from_segment(seg: Segment, geo: Geo, wait: WaitStrategy) -> Attached {
        // The geometry was checked against the mapping's length, so the words fit.
        let n = geo.slots as usize * geo.slot_words;
        let seg = Held::with_words(seg, SHARED_OFFSET, BROADCAST_HEADER_SIZE, n);
        Attached { seg, geo, wait }
    }

    fn geometry(&self) -> &BroadcastGeometry {
        geometry_of(self.seg.mapping())
    }

    fn create(name: &str, opts: &BroadcastOptions) -> Result<Attached> {
        opts.check()?;
        let ss = slot_size(opts.max_message);
        let total = BROADCAST_HEADER_SIZE as u64 + opts.slots as u64 * ss as u64;
        let (kind, header) = (&crate::kinds::BROADCAST, BROADCAST_HEADER_SIZE);
        let seg = opts
            .seg
            .create(name, kind, header, total, PUBLISHER_ROLE, |map| {
                let g = geometry_of(map);
                g.slots.store(opts.slots, Ordering::Relaxed);
                g.max_message.store(opts.max_message, Ordering::Relaxed);
                g.slot_size.store(ss as u32, Ordering::Relaxed);
                g.data_offset
                    .store(BROADCAST_HEADER_SIZE as u32, Ordering::Relaxed);
            })?;
        let geo = Geo {
            slots: opts.slots as u64,
            slot_words: ss / 8,
            max_message: opts.max_message,
        };
        Ok(Attached::from_segment(seg, geo, opts.seg.wait))
    }

    fn open(
        name: &str,
        opts: &BroadcastOptions,
        role: Option<crate::kinds::Role>,
    ) -> Result<Attached> {
        let geo = std::cell::Cell::new(None);
        let seg = opts
            .seg
            .open(name, &crate::kinds::BROADCAST, role, |map, shown| {
                geo.set(Some(validate(map, shown)?));
                Ok(())
            })?;
        let Some(geo) = geo.get() else {
            unreachable!("Segment::open returned without validating");
        };
        Ok(Attached::from_segment(seg, geo, opts.seg.wait))
    }

    /// True once a publisher had attached and none holds the role now.
    fn publisher_gone(&self) -> Result<bool> {
        let attached = self.geometry().publisher_attaches.load(Ordering::Acquire) != 0;
        self.seg.peer_gone(attached, PUBLISHER_ROLE)
    }
}

/// The one publisher of a broadcast ring. Publishing never waits.
///
/// ```
/// use ipcring::broadcast::{BroadcastOptions, Publisher};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-pubdoc-{}", std::process::id());
/// let mut tx = Publisher::create(&name, &BroadcastOptions::new())?;
/// assert_eq!(tx.publish(b"tick")?, 0);      // message numbers count from 0
/// assert_eq!(tx.publish_batch([&b"a"[..], b"b"])?, 2);
/// assert_eq!(tx.published(), 3);
/// assert!(matches!(
///     Publisher::open(&name, &BroadcastOptions::new()),
///     Err(ipcring::Error::RoleTaken { .. })
/// ));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a Publisher detaches when dropped"]
pub struct Publisher {
    ring: Attached,
    core: PublisherCore,
}

impl Publisher {
    /// Creates a broadcast ring named `name` (a `/shm-name` or a file path) and attaches as
    /// its publisher. [`Error::AlreadyExists`] if the name is taken (see
    /// [`BroadcastOptions::reclaim_stale`]).
    pub fn create(name: &str, opts: &BroadcastOptions) -> Result<Publisher> {
        Self::attach(Attached::create(name, opts)?)
    }

    /// Opens an existing ring as its publisher (waiting up to the open timeout for it to
    /// appear), continuing its message numbers. [`Error::RoleTaken`] while another
    /// publisher lives.
    pub fn open(name: &str, opts: &BroadcastOptions) -> Result<Publisher> {
        Self::attach(Attached::open(name, opts, Some(PUBLISHER_ROLE))?)
    }

    /// Opens the ring if it exists, else creates it.
    pub fn open_or_create(name: &str, opts: &BroadcastOptions) -> Result<Publisher> {
        match Attached::create(name, opts) {
            Ok(a) => Self::attach(a),
            Err(Error::AlreadyExists(_)) => Self::open(name, opts),
            Err(e) => Err(e),
        }
    }

    fn attach(ring: Attached) -> Result<Publisher> {
        let core = PublisherCore::attach(ring.seg.shared(), ring.geo);
        segment::count_attach(&ring.geometry().publisher_attaches);
        Ok(Publisher { ring, core })
    }

    #[inline]
    fn flush(&mut self) {
        let shared = self.ring.seg.shared();
        if self.core.flush(shared) {
            shared.data_wake.wake();
        }
    }

    /// Publishes `msg` and returns its number. Never waits: when every slot is taken, the
    /// oldest message is overwritten (subscribers that had not read it get
    /// [`Recv::Lagged`]). Makes a system call only when a subscriber sleeps.
    /// [`Error::MessageTooLarge`] past `max_message`.
    #[inline]
    pub fn publish(&mut self, msg: &[u8]) -> Result<u64> {
        let n = self.core.head();
        self.core.write(self.ring.seg.words(), msg)?;
        self.flush();
        Ok(n)
    }

    /// Publishes every message of `msgs`, making them visible at once at the end (one
    /// wake at most). Returns how many were published; on an error (a message too large),
    /// the ones before it are published.
    pub fn publish_batch<'m>(&mut self, msgs: impl IntoIterator<Item = &'m [u8]>) -> Result<usize> {
        let mut n = 0;
        let mut result = Ok(());
        for m in msgs {
            if let Err(e) = self.core.write(self.ring.seg.words(), m) {
                result = Err(e);
                break;
            }
            n += 1;
        }
        self.flush();
        result.map(|_| n)
    }

    /// Messages published so far (the number the next one gets).
    pub fn published(&self) -> u64 {
        self.core.head()
    }

    /// Largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.ring.geo.max_message as usize
    }

    /// Number of slots (messages held).
    pub fn slots(&self) -> u64 {
        self.ring.geo.slots
    }

    /// True if at least one subscriber is attached now (in any process).
    pub fn subscribers_attached(&self) -> Result<bool> {
        self.ring.seg.role_held_by_other(SUBSCRIBERS_ROLE)
    }

    /// The ring's name.
    pub fn name(&self) -> String {
        self.ring.seg.name()
    }

    /// Keep the name after this (creating) handle drops.
    pub fn set_keep(&mut self, keep: bool) {
        self.ring.seg.set_keep(keep);
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.flush();
        // Release the role before waking, so a blocked subscriber that wakes sees us gone.
        let _ = self.ring.seg.leave_role(PUBLISHER_ROLE);
        self.ring.seg.shared().data_wake.wake();
    }
}

/// The transport view of a publisher: `send` publishes and never waits (`try_send` is
/// never `Full`).
impl Sender for Publisher {
    fn send_deadline(&mut self, msg: &[u8], _deadline: Deadline) -> Result<()> {
        self.publish(msg).map(|_| ())
    }
    fn max_message(&self) -> usize {
        Publisher::max_message(self)
    }
}

/// A subscriber of a broadcast ring: its own cursor, any number of them, in any processes,
/// attaching and detaching at any time.
///
/// ```
/// use std::time::Duration;
/// use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-subdoc-{}", std::process::id());
/// let opts = BroadcastOptions::new();
/// let mut tx = Publisher::create(&name, &opts)?;
/// tx.publish(b"old")?;
/// let mut newest = Subscriber::open(&name, &opts)?;                      // Start::Newest
/// let mut next = Subscriber::open(&name, &opts.clone().start(Start::Next))?;
/// tx.publish(b"new")?;
/// let mut buf = Vec::new();
/// assert_eq!(newest.recv_into(&mut buf)?, Recv::Message(0));
/// assert_eq!(buf, b"old");
/// assert_eq!(next.recv_timeout_into(&mut buf, Duration::from_secs(1))?, Recv::Message(1));
/// assert_eq!(buf, b"new");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a Subscriber detaches when dropped"]
pub struct Subscriber {
    ring: Attached,
    core: SubscriberCore,
    lagged_total: u64,
    /// Where typed receives (`recv_pod`) copy a message before reading it (reused: no
    /// allocation per message once it has grown to the message size).
    pub(super) scratch: Vec<u8>,
}

impl Subscriber {
    /// Opens an existing ring as a subscriber (waiting up to the open timeout for it to
    /// appear), starting where [`BroadcastOptions::start`] says.
    pub fn open(name: &str, opts: &BroadcastOptions) -> Result<Subscriber> {
        let ring = Attached::open(name, opts, None)?;
        // A shared lock: many subscribers at once; it only tells others that some exist.
        let _ = ring.seg.lock_shared(SUBSCRIBERS_ROLE)?;
        ring.geometry()
            .subscriber_attaches
            .fetch_add(1, Ordering::Relaxed);
        let head = ring.seg.shared().head.load(Ordering::Acquire);
        let next = match opts.start {
            Start::Newest => head.saturating_sub(1),
            Start::Oldest => head.saturating_sub(ring.geo.slots),
            Start::Next => head,
        };
        let core = SubscriberCore::at(next, ring.geo);
        Ok(Subscriber {
            ring,
            core,
            lagged_total: 0,
            scratch: Vec::new(),
        })
    }

    /// One receive attempt: [`TryRecvError::Empty`] (and `buf` empty) if nothing new is
    /// there. On [`Recv::Message`], `buf` holds the message (replacing its contents); on
    /// [`Recv::Lagged`] it is empty and the next call continues with the oldest message
    /// still held.
    #[inline]
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<Recv, TryRecvError> {
        match self
            .core
            .try_recv(self.ring.seg.shared(), self.ring.seg.words(), buf)
        {
            Ok(Some(r)) => Ok(self.note(r)),
            Ok(None) => {
                buf.clear();
                Err(TryRecvError::Empty)
            }
            Err(e) => Err(TryRecvError::Failed(e)),
        }
    }

    fn note(&mut self, r: Recv) -> Recv {
        if let Recv::Lagged(n) = r {
            self.lagged_total += n;
        }
        r
    }

    fn wait_recv(&mut self, buf: &mut Vec<u8>, timeout: impl Into<Limit>) -> Result<Recv> {
        let Subscriber { ring, core, .. } = self;
        let r = wait_for(
            &ring.seg.shared().data_wake,
            ring.wait,
            timeout,
            core,
            |core| core.try_recv(ring.seg.shared(), ring.seg.words(), buf),
            |_| ring.publisher_gone(),
        )?;
        Ok(self.note(r))
    }

    /// Receives the next message (or the news that some were lost), waiting as long as
    /// needed. [`Error::Disconnected`] once the publisher is gone (exited or killed) and
    /// this subscriber has received everything still held.
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<Recv> {
        self.recv_deadline_into(buf, Deadline::forever())
    }

    /// Like [`Subscriber::recv_into`], waiting at most `timeout` ([`Error::Timeout`]).
    pub fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<Recv> {
        self.wait_recv(buf, Some(timeout))
    }

    /// Like [`Subscriber::recv_into`], waiting until `deadline` at the latest
    /// ([`Error::Timeout`]). A message there now costs no clock read.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
    /// # use ipcring::transport::Deadline;
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-bcastdl-{}", std::process::id());
    /// let opts = BroadcastOptions::new().start(Start::Next);
    /// let mut tx = Publisher::create(&name, &opts)?;
    /// let mut rx = Subscriber::open(&name, &opts)?;
    /// tx.publish(b"x")?;
    /// let mut buf = Vec::new();
    /// let deadline = Deadline::after(Duration::from_millis(10));
    /// assert_eq!(rx.recv_deadline_into(&mut buf, deadline)?, Recv::Message(0));
    /// assert!(rx.recv_deadline_into(&mut buf, deadline).unwrap_err().is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<Recv> {
        match self.try_recv_into(buf) {
            Ok(r) => Ok(r),
            Err(TryRecvError::Empty) => self.wait_recv(buf, deadline),
            Err(TryRecvError::Failed(e)) => Err(e),
        }
    }

    /// Number of the next message this subscriber will deliver.
    pub fn position(&self) -> u64 {
        self.core.next()
    }

    /// Messages published so far, as the shared head says now.
    pub fn published(&self) -> u64 {
        self.ring.seg.shared().head.load(Ordering::Acquire)
    }

    /// Total messages this subscriber lost (the sum of every [`Recv::Lagged`] it got,
    /// including those skipped by the [`Receiver`] methods).
    pub fn lagged_total(&self) -> u64 {
        self.lagged_total
    }

    /// Largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.ring.geo.max_message as usize
    }

    /// True if a publisher is attached now.
    pub fn publisher_attached(&self) -> Result<bool> {
        self.ring.seg.role_held_by_other(PUBLISHER_ROLE)
    }

    /// The ring's name.
    pub fn name(&self) -> String {
        self.ring.seg.name()
    }
}

/// The transport view of a subscriber: receives the next message, skipping over lost
/// ones (they are counted in [`Subscriber::lagged_total`]). Use the inherent methods to
/// learn about each loss as it happens.
impl Receiver for Subscriber {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        while let Recv::Lagged(_) = Subscriber::recv_deadline_into(self, buf, deadline)? {}
        Ok(())
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        while let Recv::Lagged(_) = Subscriber::try_recv_into(self, buf)? {}
        Ok(())
    }
}

/// A snapshot of a broadcast ring's header and state, read without attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastInfo {
    /// The common segment header and role locks.
    pub segment: SegmentInfo,
    /// Number of slots.
    pub slots: u32,
    /// Largest message.
    pub max_message: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// Messages published so far.
    pub published: u64,
    /// A publisher holds its role now.
    pub publisher_attached: bool,
    /// At least one subscriber is attached now.
    pub subscribers_attached: bool,
    /// How many publishers ever attached.
    pub publisher_attaches: u32,
    /// How many subscribers ever attached.
    pub subscriber_attaches: u32,
}

/// Reads a broadcast ring's header and state read-only (for `ipcring inspect`).
///
/// ```
/// use ipcring::broadcast::{inspect, BroadcastOptions, Publisher};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-binsp-{}", std::process::id());
/// let mut tx = Publisher::create(&name, &BroadcastOptions::new().slots(8).max_message(40))?;
/// tx.publish(b"x")?;
/// let info = inspect(&name)?;
/// assert_eq!((info.slots, info.slot_size, info.published), (8, 64, 1));
/// # Ok(()) }
/// ```
pub fn inspect(name: &str) -> Result<BroadcastInfo> {
    let (_, info) = segment::inspect_with(name, Some(&crate::kinds::BROADCAST), |map, info| {
        validate(map, &info.name)?;
        let g = geometry_of(map);
        let sh: &BroadcastShared = map.at(SHARED_OFFSET);
        Ok(BroadcastInfo {
            segment: info.clone(),
            slots: g.slots.load(Ordering::Relaxed),
            max_message: g.max_message.load(Ordering::Relaxed),
            slot_size: g.slot_size.load(Ordering::Relaxed),
            published: sh.head.load(Ordering::Acquire),
            publisher_attached: info.holds(PUBLISHER_ROLE),
            subscribers_attached: info.holds(SUBSCRIBERS_ROLE),
            publisher_attaches: g.publisher_attaches.load(Ordering::Relaxed),
            subscriber_attaches: g.subscriber_attaches.load(Ordering::Relaxed),
        })
    })?;
    Ok(info)
}

/// Hooks for the async wrapper (`crate::broadcast::tokio`): the subscribers' wake word and
/// the publisher-liveness check the blocking wait uses.
#[cfg(feature = "async")]
impl Subscriber {
    /// The word subscribers sleep on while nothing new is there.
    pub(super) fn data_wake_word(&self) -> &crate::wake::WakeWord {
        &self.ring.seg.shared().data_wake
    }

    /// True once a publisher had attached and is gone.
    pub(super) fn publisher_gone(&self) -> Result<bool> {
        self.ring.publisher_gone()
    }

    /// The wait strategy from the options.
    pub(super) fn wait_strategy(&self) -> WaitStrategy {
        self.ring.wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(tag: &str) -> String {
        crate::test_name("bct", tag)
    }

    /// A publisher on a new ring (named after `tag`) of `slots` slots of up to `max`
    /// bytes, and a subscriber on it that starts at `start`.
    fn pair(tag: &str, slots: u32, max: u32, start: Start) -> (Publisher, Subscriber) {
        let n = name(tag);
        let o = BroadcastOptions::new().slots(slots).max_message(max);
        let tx = Publisher::create(&n, &o).unwrap();
        (tx, Subscriber::open(&n, &o.start(start)).unwrap())
    }

    #[test]
    fn variable_lengths_and_too_large() {
        let (mut tx, mut rx) = pair("len", 8, 100, Start::Newest);
        let mut buf = Vec::new();
        for len in [0usize, 1, 7, 8, 9, 100] {
            let m: Vec<u8> = (0..len).map(|i| i as u8 ^ len as u8).collect();
            let i = tx.publish(&m).unwrap();
            assert_eq!(rx.try_recv_into(&mut buf).unwrap(), Recv::Message(i));
            assert_eq!(buf, m);
        }
        assert!(matches!(
            tx.publish(&[0; 101]),
            Err(Error::MessageTooLarge { len: 101, max: 100 })
        ));
        assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
    }

    #[test]
    fn lag_is_exact_and_reading_continues() {
        let (mut tx, mut rx) = pair("lag", 4, 8, Start::Next);
        for i in 0..10u64 {
            tx.publish(&i.to_le_bytes()).unwrap();
        }
        let mut buf = Vec::new();
        assert_eq!(rx.try_recv_into(&mut buf).unwrap(), Recv::Lagged(6));
        for i in 6..10u64 {
            assert_eq!(rx.try_recv_into(&mut buf).unwrap(), Recv::Message(i));
            assert_eq!(buf, i.to_le_bytes());
        }
        assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
        assert_eq!(rx.lagged_total(), 6);
        // Start::Oldest begins with the oldest message held.
        let oldest = BroadcastOptions::new().start(Start::Oldest);
        let mut old = Subscriber::open(&tx.name(), &oldest).unwrap();
        assert_eq!(old.try_recv_into(&mut buf).unwrap(), Recv::Message(6));
    }

    #[test]
    fn blocking_recv_wakes_times_out_and_sees_publisher_leave() {
        let n = name("block");
        let o = BroadcastOptions::new().slots(4).max_message(8);
        let mut tx = Publisher::create(&n, &o).unwrap();
        tx.set_keep(true);
        let mut rx = Subscriber::open(&n, &o).unwrap();
        let mut buf = Vec::new();
        let got = rx.recv_timeout_into(&mut buf, Duration::from_millis(20));
        assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
        let t = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let r = rx
                .recv_timeout_into(&mut buf, Duration::from_secs(10))
                .unwrap();
            (r, buf, rx)
        });
        std::thread::sleep(Duration::from_millis(30));
        tx.publish(b"wake").unwrap();
        tx.publish(b"last").unwrap();
        let (r, b, mut rx) = t.join().unwrap();
        assert_eq!((r, b.as_slice()), (Recv::Message(0), &b"wake"[..]));
        drop(tx);
        // Everything held is still delivered, then Disconnected.
        assert_eq!(rx.recv_into(&mut buf).unwrap(), Recv::Message(1));
        assert!(matches!(rx.recv_into(&mut buf), Err(Error::Disconnected)));
        // A new publisher continues the numbering.
        let mut tx2 = Publisher::open(&n, &o).unwrap();
        assert_eq!(tx2.publish(b"again").unwrap(), 2);
        assert_eq!(rx.recv_into(&mut buf).unwrap(), Recv::Message(2));
        drop(tx2);
        crate::sys::Location::parse(&n).unwrap().unlink().unwrap();
    }

    #[test]
    fn impossible_shared_values_are_corrupt_not_panics() {
        let (mut tx, mut rx) = pair("corrupt", 4, 16, Start::Next);
        let mut buf = Vec::new();
        tx.publish(b"ok").unwrap();
        assert_eq!(rx.try_recv_into(&mut buf).unwrap(), Recv::Message(0));
        let sw = tx.ring.geo.slot_words;
        // A stable slot claiming a length past max_message.
        tx.publish(b"x").unwrap();
        let data = tx.ring.seg.words();
        data[sw + 1].store(1 << 40, Ordering::Relaxed);
        let e = rx.try_recv_into(&mut buf).unwrap_err();
        assert!(matches!(e, TryRecvError::Failed(Error::Corrupt(_))), "{e}");
        assert!(buf.is_empty());
        // A stamp behind a published head.
        data[sw].store(0, Ordering::Relaxed);
        let e = rx.try_recv_into(&mut buf).unwrap_err();
        assert!(matches!(e, TryRecvError::Failed(Error::Corrupt(_))), "{e}");
        // A head that went backwards.
        tx.ring.seg.shared().head.store(0, Ordering::Relaxed);
        let e = rx.try_recv_into(&mut buf).unwrap_err();
        assert!(matches!(e, TryRecvError::Failed(Error::Corrupt(_))), "{e}");
    }

    #[test]
    fn bad_options_refused() {
        for o in [
            BroadcastOptions::new().slots(3),
            BroadcastOptions::new().slots(1),
            BroadcastOptions::new().max_message(0),
            BroadcastOptions::new().max_message(MAX_MESSAGE_LIMIT + 1),
            BroadcastOptions::new()
                .slots(MAX_SLOTS)
                .max_message(MAX_MESSAGE_LIMIT),
        ] {
            let e = Publisher::create(&name("badopt"), &o).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
        }
    }

    #[test]
    fn transport_traits_skip_lag() {
        let (mut tx, mut rx) = pair("traits", 2, 8, Start::Next);
        for i in 0..5u8 {
            Sender::send(&mut tx, &[i]).unwrap();
        }
        assert_eq!(Receiver::recv(&mut rx).unwrap(), [3]);
        assert_eq!(rx.lagged_total(), 3);
        let mut buf = Vec::new();
        Receiver::try_recv_into(&mut rx, &mut buf).unwrap();
        assert_eq!(buf, [4]);
        assert!(Receiver::try_recv_into(&mut rx, &mut buf)
            .unwrap_err()
            .is_empty());
    }
}
