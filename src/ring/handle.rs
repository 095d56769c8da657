//! Producer and Consumer handles over a named segment.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::kinds::{self, Role};
use crate::ring::core::{ConsumerCore, Geometry, ProducerCore, Reservation, RingMemory, Slot};
use crate::ring::layout::{
    max_message_for, RingGeometry, RingShared, GEOMETRY_OFFSET, MAX_CAPACITY, MIN_CAPACITY,
    RING_HEADER_SIZE, SHARED_OFFSET,
};
use crate::segment::{self, Segment, SegmentInfo, SegmentOptions};
use crate::sync::DataArea;
use crate::sys::Mapping;
use crate::transport::{Deadline, Receiver, Sender};
use crate::wake::{wait_for, Limit, WaitStrategy};
use crate::{Error, Result, TryRecvError, TrySendError};

/// The producer's and the consumer's roles.
pub(crate) use crate::kinds::{CONSUMER as CONSUMER_ROLE, PRODUCER as PRODUCER_ROLE};

/// The constructors and accessors [`Producer`] and [`Consumer`] share: both hold the ring
/// as `ring: Attached` and set themselves up on it in `attach`. `$role` is the handle's
/// role, `$peer` the other side's; `$peer_attached` the method that asks for it.
macro_rules! ring_handle_methods {
    ($role:ident $role_name:literal, $peer:ident $peer_name:literal, $peer_attached:ident) => {
        /// Creates a new ring named `name` (a `/shm-name` or a file path) and
        #[doc = concat!("attaches as its ", $role_name, ". Fails with [`Error::AlreadyExists`] ")]
        /// if the name is taken (see [`RingOptions::reclaim_stale`]).
        pub fn create(name: &str, opts: &RingOptions) -> Result<Self> {
            Self::attach(Attached::create(name, opts, $role)?)
        }

        #[doc = concat!("Opens an existing ring as its ", $role_name, ", waiting up to the ")]
        /// open timeout for it to be created.
        pub fn open(name: &str, opts: &RingOptions) -> Result<Self> {
            Self::attach(Attached::open(name, opts, $role)?)
        }

        /// Opens the ring if it exists, else creates it: for peers that do not know who
        /// starts first.
        pub fn open_or_create(name: &str, opts: &RingOptions) -> Result<Self> {
            Self::attach(Attached::open_or_create(name, opts, $role)?)
        }

        /// The ring's name.
        pub fn name(&self) -> String {
            self.ring.seg.name()
        }

        /// Data area size in bytes.
        pub fn capacity(&self) -> u64 {
            self.ring.geo.capacity
        }

        /// Largest message in bytes.
        pub fn max_message(&self) -> usize {
            self.ring.geo.max_message as usize
        }

        /// Keep the name after this (creating) handle drops.
        pub fn set_keep(&mut self, keep: bool) {
            self.ring.seg.set_keep(keep);
        }

        #[doc = concat!("True if a ", $peer_name, " is attached now.")]
        pub fn $peer_attached(&self) -> Result<bool> {
            self.ring.seg.role_held_by_other($peer)
        }

        /// True once the peer had attached and is gone; first the slice-end checks of the
        /// blocking wait (segment whole, positions consistent).
        #[cfg(feature = "async")]
        pub(super) fn peer_gone(&self) -> Result<bool> {
            self.ring.slice_end(|| self.core.check_stalled(), $peer)
        }

        /// The wait strategy from the options (its spin time is reused by async waits).
        #[cfg(feature = "async")]
        pub(super) fn wait_strategy(&self) -> WaitStrategy {
            self.ring.wait
        }
    };
}

/// How to create or open a ring.
///
/// ```
/// use std::time::Duration;
/// use ipcring::ring::{RingOptions, WaitStrategy};
/// let opts = RingOptions::new()
///     .capacity(1 << 20)                 // bytes, a power of two
///     .max_message(64 * 1024)            // bytes, at most capacity/2 - 8
///     .mode(0o600)                       // file mode of a created segment
///     .open_timeout(Duration::from_secs(5))
///     .wait(WaitStrategy::Spin);
/// assert_eq!(opts.get_capacity(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct RingOptions {
    capacity: u64,
    max_message: Option<u32>,
    seg: SegmentOptions,
}

impl Default for RingOptions {
    fn default() -> Self {
        RingOptions {
            capacity: 1 << 20,
            max_message: None,
            seg: SegmentOptions::default(),
        }
    }
}

impl RingOptions {
    /// Defaults: 1 MiB capacity, max message capacity/2 - 8, mode 0600, unlink on drop,
    /// no reclaiming, [`WaitStrategy::default`], open timeout 5 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Data area size in bytes (a power of two, 64 B ..= 1 TiB). Used by `create` only: an
    /// opener uses the creator's geometry.
    pub fn capacity(mut self, bytes: u64) -> Self {
        self.capacity = bytes;
        self
    }

    /// Largest message in bytes (default and maximum: capacity/2 - 8). Used by `create`.
    pub fn max_message(mut self, bytes: u32) -> Self {
        self.max_message = Some(bytes);
        self
    }

    segment::segment_option_methods!(
        "How blocking operations wait (default: spin 20 µs, then sleep on the futex)."
    );

    /// The capacity set.
    pub fn get_capacity(&self) -> u64 {
        self.capacity
    }

    fn geometry(&self) -> Result<Geometry> {
        let cap = self.capacity;
        if !cap.is_power_of_two() {
            return Err(Error::InvalidConfig(
                format!("capacity {cap} is not a power of two").into(),
            ));
        }
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) {
            return Err(Error::InvalidConfig(
                format!("capacity {cap} is outside {MIN_CAPACITY} ..= {MAX_CAPACITY} bytes").into(),
            ));
        }
        let limit = max_message_for(cap);
        let max = match self.max_message {
            None => limit as u32,
            Some(m) if m as u64 <= limit => m,
            Some(m) => {
                return Err(Error::InvalidConfig(
                    format!("max_message {m} exceeds {limit}, the most a {cap}-byte ring allows (capacity/2 - 8)").into(),
                ))
            }
        };
        Ok(Geometry::new(cap, max))
    }
}

/// The ring inside an attached segment: the segment plus pointers into it.
#[derive(Debug)]
struct Attached {
    seg: Segment,
    mem: RingMemory,
    geo: Geometry,
    wait: WaitStrategy,
    /// The header's creation nonce when this handle attached (see `check_intact`).
    nonce: u64,
}

// SAFETY: `mem` points into `seg`'s mapping, which moves with the value and is only
// touched through atomics and the ring protocol.
unsafe impl Send for Attached {}

impl Attached {
    fn geometry_words(map: &Mapping) -> &RingGeometry {
        // Every ring mapping is at least RING_HEADER_SIZE bytes (checked before this is
        // called).
        map.at(GEOMETRY_OFFSET)
    }

    fn from_segment(seg: Segment, wait: WaitStrategy) -> Attached {
        let map = seg.mapping();
        let g = Self::geometry_words(map);
        let geo = Geometry::new(
            g.capacity.load(Ordering::Relaxed),
            g.max_message.load(Ordering::Relaxed),
        );
        let shared: &RingShared = map.at(SHARED_OFFSET);
        // The data area: the `capacity` bytes after the header (validated: the mapping holds
        // RING_HEADER_SIZE + capacity bytes).
        let data = map.as_ptr().wrapping_add(RING_HEADER_SIZE);
        // SAFETY: both lie in `seg`'s mapping, which Attached owns (so they live as long as
        // every copy of `mem`, held by Attached and the core it makes), the shared block
        // checked by `at`, the data area 8-aligned (offset 1024 of a page-aligned mapping)
        // and `capacity` bytes long as validated above.
        let mem =
            unsafe { RingMemory::new(shared, DataArea::new(data, geo.capacity as usize), geo) };
        let nonce = seg.header().nonce.load(Ordering::Relaxed);
        Attached {
            seg,
            mem,
            geo,
            wait,
            nonce,
        }
    }

    /// Checks that the segment is still whole and still the one this handle attached to:
    /// the file's size (`fstat` on the descriptor held) is still the mapping's, and then
    /// (only then, since reading a truncated mapping raises SIGBUS) that the header's
    /// creation nonce is unchanged. Made where every wait slice ends and before a handle
    /// touches the ring on drop; never on the send/receive path. What a truncation then
    /// does: see the module docs ("Truncation").
    fn check_intact(&self) -> Result<()> {
        let name = self.seg.name();
        let bad = segment::bad(&name);
        let len = self.seg.mapping().len() as u64;
        let size = self.seg.file_size()?;
        if size != len {
            return Err(bad(format!(
                "the file was resized from {len} to {size} bytes while attached (truncated by its owner?); messages in it may be lost"
            )));
        }
        let nonce = self.seg.header().nonce.load(Ordering::Relaxed);
        if nonce != self.nonce {
            return Err(bad(format!(
                "the header was overwritten while attached (creation nonce {nonce:#x}, was {:#x}): the file was zeroed or replaced; messages in it may be lost",
                self.nonce
            )));
        }
        Ok(())
    }

    fn shared(&self) -> &RingShared {
        self.mem.shared()
    }

    fn geometry_counters(&self) -> &RingGeometry {
        Self::geometry_words(self.seg.mapping())
    }

    fn create(name: &str, opts: &RingOptions, role: Role) -> Result<Attached> {
        let geo = opts.geometry()?;
        let total = RING_HEADER_SIZE as u64 + geo.capacity;
        let seg = opts
            .seg
            .create(name, &kinds::RING, RING_HEADER_SIZE, total, role, |map| {
                let g = Self::geometry_words(map);
                g.capacity.store(geo.capacity, Ordering::Relaxed);
                g.max_message.store(geo.max_message, Ordering::Relaxed);
                g.data_offset
                    .store(RING_HEADER_SIZE as u32, Ordering::Relaxed);
            })?;
        Ok(Self::from_segment(seg, opts.seg.wait))
    }

    fn open(name: &str, opts: &RingOptions, role: Role) -> Result<Attached> {
        let seg = opts
            .seg
            .open(name, &kinds::RING, Some(role), validate_ring)?;
        Ok(Self::from_segment(seg, opts.seg.wait))
    }

    fn open_or_create(name: &str, opts: &RingOptions, role: Role) -> Result<Attached> {
        match Self::create(name, opts, role) {
            Err(Error::AlreadyExists(_)) => Self::open(name, opts, role),
            other => other,
        }
    }

    /// A waiting side's check at each slice end: the segment is whole
    /// ([`Attached::check_intact`], first, before anything touches the mapping), the ring's
    /// positions hold up (`stalled`: the core's `check_stalled`); then whether the peer
    /// (role `peer`) is gone: it had attached and no longer holds its lock.
    fn slice_end(&self, stalled: impl FnOnce() -> Result<()>, peer: Role) -> Result<bool> {
        self.check_intact()?;
        stalled()?;
        let g = self.geometry_counters();
        let attaches = if peer == PRODUCER_ROLE {
            &g.producer_attaches
        } else {
            &g.consumer_attaches
        };
        self.seg
            .peer_gone(attaches.load(Ordering::Acquire) != 0, peer)
    }
}

fn validate_ring(map: &Mapping, shown: &str) -> Result<()> {
    let bad = segment::bad(shown);
    segment::check_header_size(map, "ring", RING_HEADER_SIZE).map_err(bad)?;
    let g = Attached::geometry_words(map);
    let cap = g.capacity.load(Ordering::Relaxed);
    if !cap.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) {
        return Err(bad(format!(
            "capacity {cap} is not a power of two in {MIN_CAPACITY} ..= {MAX_CAPACITY}"
        )));
    }
    if RING_HEADER_SIZE as u64 + cap != map.len() as u64 {
        return Err(bad(format!(
            "capacity {cap} + header {RING_HEADER_SIZE} does not match the file's {} bytes",
            map.len()
        )));
    }
    let max = g.max_message.load(Ordering::Relaxed) as u64;
    if max > max_message_for(cap) {
        return Err(bad(format!(
            "max message {max} exceeds {} allowed by capacity {cap}",
            max_message_for(cap)
        )));
    }
    let off = g.data_offset.load(Ordering::Relaxed);
    if off as usize != RING_HEADER_SIZE {
        return Err(bad(format!(
            "data offset {off} (expected {RING_HEADER_SIZE})"
        )));
    }
    Ok(())
}

/// The sending side of a ring. One per ring at a time (others get
/// [`Error::RoleTaken`]).
///
/// ```
/// use ipcring::ring::{Consumer, Producer, RingOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-pdoc-{}", std::process::id());
/// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
/// tx.try_send(b"ping")?;
/// let mut rx = Consumer::open(&name, &RingOptions::new())?;
/// assert_eq!(&*rx.try_recv()?, b"ping");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a Producer detaches when dropped"]
pub struct Producer {
    ring: Attached,
    core: ProducerCore,
}

impl Producer {
    ring_handle_methods!(PRODUCER_ROLE "producer", CONSUMER_ROLE "consumer", consumer_attached);

    fn attach(ring: Attached) -> Result<Producer> {
        // SAFETY: shared/data point into the mapping owned by `ring`, which the Producer
        // owns for as long as the core; the role lock makes us the only producer.
        let core = unsafe { ProducerCore::attach(ring.mem.clone())? };
        // A producer killed asleep waiting for room left its count there.
        ring.shared().space_wake.forget_sleepers();
        // One killed while it polled may have left its excuse set (`wake::excuse`).
        ring.shared().space_excuse.reset();
        segment::count_attach(&ring.geometry_counters().producer_attaches);
        Ok(Producer { ring, core })
    }

    /// Whether the ring's name still leads to this ring. `false` once the name was removed
    /// (`ipcring rm --force`, `segment::remove`) or now names another file: no consumer can
    /// attach by name any more, so a producer waiting for one (e.g. in
    /// [`Producer::wait_drained`] before any consumer came) would wait for ever. Where shm
    /// names have no file system path (not Linux) it always says `true`.
    ///
    /// ```
    /// use ipcring::ring::{Producer, RingOptions};
    /// let name = format!("/ipcring-doc-name-leads-{}", std::process::id());
    /// let tx = Producer::create(&name, &RingOptions::new())?;
    /// assert!(tx.name_leads_here()?);
    /// ipcring::segment::remove(&name, true)?;
    /// assert!(!tx.name_leads_here()?);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn name_leads_here(&self) -> Result<bool> {
        self.ring.seg.name_leads_here()
    }

    #[inline]
    fn publish(&mut self) {
        if self.core.publish() {
            self.ring.shared().data_wake.wake();
        }
    }

    /// Room for a `len`-byte message, waiting per the strategy for at most `timeout`
    /// (`None`: no limit). With room now, this is the core's check alone: no clock read,
    /// no call out of line.
    ///
    /// The out-of-line wait only says *when* there is room; the reservation itself is
    /// always made here, inline. (Measured: when the wait loop handed back the
    /// reservation, the two ways of getting one met in a stack slot that the compiler
    /// read back with a wider load than its two stores, and that load waited for every
    /// older store, the ring's included, to drain: 8 -> 23 ns per message in one thread,
    /// and 64-byte streaming between processes fell from 56-84 to 14-17 M msg/s.)
    #[inline(always)]
    fn room(&mut self, len: usize, timeout: impl Into<Limit> + Copy) -> Result<Reservation> {
        loop {
            if let Some(res) = self.core.reserve(len)? {
                return Ok(res);
            }
            // Room the wait saw stays: only this producer takes it, so the next
            // `reserve` succeeds.
            self.wait_room(len, timeout.into())?;
        }
    }

    fn wait_room(&mut self, len: usize, timeout: Limit) -> Result<()> {
        let Producer { ring, core } = self;
        wait_for(
            ring.shared().space_sleep(),
            ring.wait,
            timeout,
            core,
            |core| Ok(core.reserve(len)?.map(drop)),
            |core| ring.slice_end(|| core.check_stalled(), CONSUMER_ROLE),
        )
    }

    /// Waits until the consumer has taken (received and released) every message this
    /// producer sent, for at most `timeout` (`None`: no limit): what a program that sends
    /// and then exits calls last, so that it leaves only once everything was delivered.
    /// Publishes anything committed with [`Grant::commit_deferred`] first.
    ///
    /// Ends with:
    /// - `Ok(())`: the consumer took everything;
    /// - [`Error::Undelivered`] (how many messages it left unread) once a consumer that
    ///   had attached is gone with messages left, seen within [`LIVENESS_SLICE`](crate::ring::LIVENESS_SLICE). A
    ///   consumer that never attached is waited for (up to `timeout`);
    /// - [`Error::Timeout`]; [`Error::Corrupt`] or [`Error::BadSegment`] if the ring was
    ///   damaged meanwhile (checked at every wait slice's end).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::ring::{Consumer, Producer, RingOptions};
    /// use ipcring::Error;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-drained-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// let mut rx = Consumer::open(&name, &RingOptions::new())?;
    /// for m in [&b"a"[..], b"b", b"c"] {
    ///     tx.send(m)?;
    /// }
    /// assert!(matches!(tx.wait_drained(Some(Duration::ZERO)), Err(Error::Timeout)));
    /// assert_eq!(&*rx.recv()?, b"a");
    /// drop(rx); // leaves "b" and "c"
    /// match tx.wait_drained(Some(Duration::from_secs(5))) {
    ///     Err(Error::Undelivered { messages, bytes }) => assert_eq!((messages, bytes), (2, 2)),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_drained(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.publish();
        let Producer { ring, core } = self;
        let waited = wait_for(
            ring.shared().space_sleep(),
            ring.wait,
            timeout,
            core,
            |core| Ok(core.drained()?.then_some(())),
            |core| ring.slice_end(|| core.check_stalled(), CONSUMER_ROLE),
        );
        match waited {
            Err(Error::Disconnected) => {
                let (messages, bytes) = self.core.unread()?;
                Err(Error::Undelivered { messages, bytes })
            }
            other => other,
        }
    }

    /// Reserves room for a `len`-byte message without waiting; [`TrySendError::Full`] if
    /// the ring is full. Write the message into the [`Grant`], then [`Grant::commit`].
    /// To wait for room, call [`Producer::reserve`] rather than this in a loop (see
    /// [`Producer::try_send`]).
    ///
    /// ```
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-tryreserve-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
    /// let mut g = tx.try_reserve(3)?; // `?`: a full ring is `Error::WouldBlock` here
    /// g[..].copy_from_slice(b"abc");
    /// g.commit();
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>, TrySendError> {
        match self.core.reserve(len) {
            Ok(Some(res)) => Ok(self.grant(res)),
            Ok(None) => Err(TrySendError::Full),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    /// Reserves room for a `len`-byte message, waiting for space.
    ///
    /// ```
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-grant-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
    /// let mut g = tx.reserve(3)?;
    /// g[..].copy_from_slice(b"abc");
    /// g.commit();
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<Grant<'_>> {
        let res = self.room(len, None)?;
        Ok(Grant {
            producer: self,
            res,
        })
    }

    /// Reserves room, waiting at most `timeout`.
    pub fn reserve_timeout(&mut self, len: usize, timeout: Duration) -> Result<Grant<'_>> {
        let res = self.room(len, Some(timeout))?;
        Ok(self.grant(res))
    }

    /// The [`Grant`] of a reservation made just before on this producer, with no other
    /// reserve, send or commit in between.
    #[inline]
    pub(super) fn grant(&mut self, res: Reservation) -> Grant<'_> {
        Grant {
            producer: self,
            res,
        }
    }

    #[inline]
    fn write_and_publish(&mut self, res: Reservation, msg: &[u8]) {
        self.core.fill(&res, msg);
        self.core.commit(res);
        self.publish();
    }

    /// Copies `msg` into the ring if there is room now. [`TrySendError::Full`]: full,
    /// nothing sent.
    ///
    /// To wait for room, call [`Producer::send`] (or `send_timeout`) rather than this in a
    /// tight loop: each `Full` re-reads the consumer's position, which the consumer writes
    /// at every release, so a loop of them pulls that cache line away from the consumer
    /// once per try and slows the very side it waits for (measured, 64 B messages between
    /// two threads, the consumer the slower side: 27-43 M msg/s in such a loop against
    /// 60-280 M with `reserve`, whose wait spaces its looks).
    #[inline]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        match self.core.reserve(msg.len()) {
            Ok(Some(res)) => {
                self.write_and_publish(res, msg);
                Ok(())
            }
            Ok(None) => Err(TrySendError::Full),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    /// Copies `msg` into the ring, waiting for room.
    #[inline]
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        let res = self.room(msg.len(), None)?;
        self.write_and_publish(res, msg);
        Ok(())
    }

    /// Copies `msg` into the ring, waiting at most `timeout` for room.
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        let res = self.room(msg.len(), Some(timeout))?;
        self.write_and_publish(res, msg);
        Ok(())
    }

    /// Copies `msg` into the ring, waiting for room until `deadline` at the latest
    /// ([`Error::Timeout`]: nothing was sent).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # use ipcring::transport::Deadline;
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-senddl-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
    /// let deadline = Deadline::after(Duration::from_millis(10)); // one for several sends
    /// tx.send_deadline(b"a", deadline)?;
    /// tx.send_deadline(b"b", deadline)?;
    /// # Ok(()) }
    /// ```
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let res = self.room(msg.len(), deadline)?;
        self.write_and_publish(res, msg);
        Ok(())
    }

    /// Copies as many of `msgs` as fit now, publishes them at once (one wake at most), and
    /// returns how many were sent.
    ///
    /// ```
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-batch-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// assert_eq!(tx.try_send_batch([&b"a"[..], b"b", b"c"])?, 3);
    /// # Ok(()) }
    /// ```
    #[must_use = "the count says how many messages were sent; the rest were not"]
    pub fn try_send_batch<'m>(
        &mut self,
        msgs: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<usize> {
        let mut n = 0;
        let mut result = Ok(());
        for m in msgs {
            match self.core.push(m) {
                Ok(true) => n += 1,
                other => {
                    result = other.map(drop);
                    break;
                }
            }
        }
        self.publish();
        result.map(|_| n)
    }

    /// Sends every message of `msgs`, publishing whenever the ring fills and once at the
    /// end: one wake per batch when the consumer sleeps, instead of one per message.
    pub fn send_batch<'m>(&mut self, msgs: impl IntoIterator<Item = &'m [u8]>) -> Result<usize> {
        let mut n = 0;
        for m in msgs {
            if !self.core.push(m)? {
                self.publish();
                let res = self.room(m.len(), None)?;
                self.core.fill(&res, m);
                self.core.commit(res);
            }
            n += 1;
        }
        self.publish();
        Ok(n)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // A truncated file would raise SIGBUS on the stores below: skip them then (the
        // consumer finds out at its next slice end).
        let intact = self.ring.check_intact().is_ok();
        if intact {
            self.publish();
        }
        // Release the role before waking, so a blocked consumer that wakes sees us gone.
        let _ = self.ring.seg.leave_role(PRODUCER_ROLE);
        if intact {
            self.ring.shared().data_wake.wake();
        }
    }
}

/// The ring's own forms, not the provided ones: they count a timeout from the first miss
/// (no clock read when there is room), and its `try_send` never reaches the wait.
impl Sender for Producer {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        Producer::send_deadline(self, msg, deadline)
    }
    fn max_message(&self) -> usize {
        Producer::max_message(self)
    }
    #[inline]
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        Producer::send(self, msg)
    }
    #[inline]
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        Producer::try_send(self, msg)
    }
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        Producer::send_timeout(self, msg, timeout)
    }
}

/// Room reserved in the ring for one message: write into it (it derefs to `&mut [u8]`
/// of the reserved length), then [`Grant::commit`]. Dropped without commit, nothing is
/// published.
#[derive(Debug)]
#[must_use = "a Grant publishes nothing unless committed"]
pub struct Grant<'a> {
    producer: &'a mut Producer,
    res: Reservation,
}

impl Grant<'_> {
    /// Publishes the message (and wakes the consumer if it sleeps).
    pub fn commit(self) {
        self.producer.core.commit(self.res);
        self.producer.publish();
    }

    /// Commits the message but does not publish it yet: it becomes visible with the next
    /// commit or send (batching: one publication and at most one wake for many messages).
    pub fn commit_deferred(self) {
        self.producer.core.commit(self.res);
    }
}

impl Deref for Grant<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.producer.core.reserved(&self.res)
    }
}

impl DerefMut for Grant<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.producer.core.reserved_mut(&self.res)
    }
}

/// The receiving side of a ring. One per ring at a time. A consumer that opens a ring
/// another consumer left continues after the first message that one did not release.
///
/// ```
/// use ipcring::ring::{Consumer, Producer, RingOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-cdoc-{}", std::process::id());
/// let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1024))?;
/// let mut tx = Producer::open(&name, &RingOptions::new())?;
/// tx.send(b"x")?;
/// let mut n = 0;
/// rx.try_recv_batch(16, |m| { assert_eq!(m, b"x"); n += 1; })?;
/// assert_eq!(n, 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a Consumer detaches when dropped"]
pub struct Consumer {
    ring: Attached,
    core: ConsumerCore,
}

impl Consumer {
    ring_handle_methods!(CONSUMER_ROLE "consumer", PRODUCER_ROLE "producer", producer_attached);

    fn attach(ring: Attached) -> Result<Consumer> {
        // SAFETY: as in Producer::attach, for the consumer role.
        let core = unsafe { ConsumerCore::attach(ring.mem.clone())? };
        // A consumer killed while it waited left its announcement (and, asleep, its count
        // in the wake word): this one does not wait.
        core.withdraw_waiting();
        ring.shared().data_wake.forget_sleepers();
        ring.shared().data_excuse.reset();
        segment::count_attach(&ring.geometry_counters().consumer_attaches);
        Ok(Consumer { ring, core })
    }

    #[inline]
    fn release(&mut self) {
        if self.core.release() {
            self.ring.shared().space_wake.wake();
        }
    }

    /// The next message's slot, waiting per the strategy for at most `timeout` (`None`:
    /// no limit). With a message there, this is the core's check alone: no clock read,
    /// no call out of line. Unlike the producer's `room`, the wait hands back what it
    /// found: looking again after it measured 4% slower round trips (an extra header
    /// check per message), and a slot, unlike a reservation, was not measured to cost
    /// anything on its way back.
    #[inline(always)]
    fn next_slot(&mut self, timeout: impl Into<Limit>) -> Result<Slot> {
        match self.core.peek()? {
            Some(slot) => Ok(slot),
            None => self.wait_message(timeout.into()),
        }
    }

    fn wait_message(&mut self, timeout: Limit) -> Result<Slot> {
        let Consumer { ring, core } = self;
        // A consumer that caught up with a streaming producer lets it run ahead first
        // (see `ConsumerCore::slip`); only where the wait would spin anyway.
        if timeout.spins_first(ring.wait) && core.slip_due() {
            core.slip();
            if let Some(slot) = core.peek()? {
                return Ok(slot);
            }
        }
        core.announce_waiting();
        let got = wait_for(
            ring.shared().data_sleep(),
            ring.wait,
            timeout,
            core,
            |core| core.peek(),
            |core| ring.slice_end(|| core.check_stalled(), PRODUCER_ROLE),
        );
        got.inspect_err(|_| core.withdraw_waiting())
    }

    /// The next message if one is there now, as a zero-copy guard (see the module docs on
    /// what it means to hold a reference into shared memory). Its space is freed when the
    /// guard drops.
    #[inline]
    #[must_use = "a received message is consumed: dropping it unread loses it"]
    pub fn try_recv(&mut self) -> Result<Message<'_>, TryRecvError> {
        match self.core.peek() {
            Ok(Some(slot)) => Ok(Message {
                consumer: self,
                slot,
            }),
            Ok(None) => Err(TryRecvError::Empty),
            Err(e) => Err(TryRecvError::Failed(e)),
        }
    }

    /// The next message, waiting for one. `Err(Disconnected)` once the producer is gone
    /// and everything it sent has been received.
    #[inline]
    pub fn recv(&mut self) -> Result<Message<'_>> {
        let slot = self.next_slot(None)?;
        Ok(Message {
            consumer: self,
            slot,
        })
    }

    /// The next message, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message<'_>> {
        let slot = self.next_slot(Some(timeout))?;
        Ok(Message {
            consumer: self,
            slot,
        })
    }

    fn copy_out(&mut self, slot: Slot, buf: &mut Vec<u8>) {
        self.core.copy_out(&slot, buf);
        self.core.advance(slot);
        self.release();
    }

    /// Copies the next message into `buf` (cleared first) and frees it, if one is there;
    /// [`TryRecvError::Empty`] (and `buf` empty) if not. Sound even against a hostile
    /// peer: no reference into shared memory is kept.
    #[inline]
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        match self.core.peek() {
            Ok(Some(slot)) => {
                self.copy_out(slot, buf);
                Ok(())
            }
            Ok(None) => {
                buf.clear();
                Err(TryRecvError::Empty)
            }
            Err(e) => Err(TryRecvError::Failed(e)),
        }
    }

    /// Copies the next message into `buf`, waiting for one.
    #[inline]
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let slot = self.next_slot(None)?;
        self.copy_out(slot, buf);
        Ok(())
    }

    /// Copies the next message into `buf`, waiting at most `timeout`.
    pub fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        let slot = self.next_slot(Some(timeout))?;
        self.copy_out(slot, buf);
        Ok(())
    }

    /// Copies the next message into `buf`, waiting until `deadline` at the latest
    /// (`Error::Timeout` then, with `buf` empty).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # use ipcring::transport::Deadline;
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-recvdl-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(1024);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send(b"hi")?;
    /// let mut buf = Vec::new();
    /// let deadline = Deadline::after(Duration::from_millis(10));
    /// rx.recv_deadline_into(&mut buf, deadline)?;
    /// assert_eq!(buf, b"hi");
    /// assert!(rx.recv_deadline_into(&mut buf, deadline).unwrap_err().is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        let slot = self.next_slot(deadline).inspect_err(|_| buf.clear())?;
        self.copy_out(slot, buf);
        Ok(())
    }

    /// Hands up to `max` waiting messages to `f` (zero-copy), then frees them all at once
    /// (one release, at most one wake). Returns how many; 0 if none was waiting.
    pub fn try_recv_batch(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let mut n = 0;
        let mut result = Ok(());
        while n < max {
            match self.core.peek() {
                Ok(Some(slot)) => {
                    f(self.core.bytes(&slot));
                    self.core.advance(slot);
                    n += 1;
                }
                other => {
                    result = other.map(drop);
                    break;
                }
            }
        }
        self.release();
        result.map(|_| n)
    }

    /// Like [`Consumer::try_recv_batch`], but waits (at most `timeout`, or forever with
    /// `None`) for at least one message.
    pub fn recv_batch(
        &mut self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnMut(&[u8]),
    ) -> Result<usize> {
        if max == 0 {
            return Ok(0);
        }
        self.next_slot(timeout)?;
        self.try_recv_batch(max, f)
    }

    /// Bytes waiting (published, not yet freed), as of the last look.
    pub fn pending_bytes(&self) -> u64 {
        self.core.pending()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // As in Producer's drop: no store into a file that shrank. A dropped async
        // receive may have left this consumer's announcement that it waits: nobody will.
        let intact = self.ring.check_intact().is_ok();
        if intact {
            self.core.withdraw_waiting();
        }
        let _ = self.ring.seg.leave_role(CONSUMER_ROLE);
        if intact {
            self.ring.shared().space_wake.wake();
        }
    }
}

/// The ring's own forms, not the provided ones (see the `Sender` impl of [`Producer`]).
impl Receiver for Consumer {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        Consumer::recv_deadline_into(self, buf, deadline)
    }
    #[inline]
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        Consumer::recv_into(self, buf)
    }
    #[inline]
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        Consumer::try_recv_into(self, buf)
    }
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        Consumer::recv_timeout_into(self, buf, timeout)
    }
}

/// A received message, zero-copy: derefs to the payload in shared memory, and frees its
/// space when dropped. See the module docs on holding references into shared memory.
#[derive(Debug)]
#[must_use = "a Message frees its space when dropped"]
pub struct Message<'a> {
    consumer: &'a mut Consumer,
    slot: Slot,
}

impl Message<'_> {
    /// Copies the payload out (with word-sized atomic loads; see [`Consumer::recv_into`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.consumer.core.copy_out(&self.slot, &mut v);
        v
    }
}

impl Deref for Message<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.consumer.core.bytes(&self.slot)
    }
}

impl Drop for Message<'_> {
    #[inline]
    fn drop(&mut self) {
        self.consumer.core.advance(self.slot);
        self.consumer.release();
    }
}

/// A snapshot of a ring's header and state, read without attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInfo {
    /// The common segment header and role locks.
    pub segment: SegmentInfo,
    /// Data area size.
    pub capacity: u64,
    /// Largest message.
    pub max_message: u32,
    /// Producer position.
    pub write_pos: u64,
    /// Consumer position.
    pub read_pos: u64,
    /// Bytes in use (write_pos - read_pos), padding records included: a ring used one
    /// message at a time pads from a few records in to its end whenever it starts over
    /// at index 0 (see docs/LAYOUT.md), so a snapshot taken just then can show most of
    /// the capacity in use until the consumer passes that padding.
    pub fill: u64,
    /// A producer holds its role now.
    pub producer_attached: bool,
    /// A consumer holds its role now.
    pub consumer_attached: bool,
    /// How many producers ever attached.
    pub producer_attaches: u32,
    /// How many consumers ever attached.
    pub consumer_attaches: u32,
    /// The consumer waits for the next record at `read_pos` now: a receive found nothing
    /// and has not returned yet. A hint the producer reads before it starts over at index
    /// 0 early (the recycling of a ring used one message at a time: docs/LAYOUT.md); a
    /// snapshot may be stale the moment it is taken.
    pub consumer_waiting: bool,
    /// A consumer announced that it sleeps until the producer wakes it (the data wake
    /// word's waiter count is not zero; a consumer killed in its sleep leaves its count
    /// until the next consumer attaches).
    pub consumer_asleep: bool,
    /// A producer announced that it sleeps until the consumer makes room (the space wake
    /// word's waiter count is not zero; a producer killed in its sleep leaves its count
    /// until the next producer attaches).
    pub producer_asleep: bool,
    /// The consumer excuses the producer's publish fence: it polls, and promises a
    /// process-wide barrier before it sleeps (see [`crate::wake::fences_excused`]). Never
    /// true while `consumer_asleep` is, but for a consumer killed between the two.
    pub consumer_excuses: bool,
    /// The producer excuses the consumer's release fence likewise.
    pub producer_excuses: bool,
}

impl RingInfo {
    /// Whether the positions hold the documented invariant as far as a snapshot can tell:
    /// both 8-aligned, and `write_pos` at most one capacity past `read_pos`. (`write_pos`
    /// behind `read_pos` can be a producer between a deferred commit and its publication,
    /// so it is not counted against the ring.) A ring in use checks more, at every wait
    /// slice's end (see the module docs).
    ///
    /// ```
    /// use ipcring::ring::{inspect, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-consistent-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
    /// tx.send(b"x")?;
    /// assert!(inspect(&name)?.positions_consistent());
    /// # Ok(()) }
    /// ```
    pub fn positions_consistent(&self) -> bool {
        self.write_pos % 8 == 0
            && self.read_pos % 8 == 0
            && (self.write_pos < self.read_pos || self.write_pos - self.read_pos <= self.capacity)
    }
}

/// Reads a ring's header and state read-only (for `ipcring inspect`). A file that is not a
/// ring gets the same errors as [`Consumer::open`].
///
/// ```
/// use ipcring::ring::{inspect, Producer, RingOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-insp-{}", std::process::id());
/// let mut tx = Producer::create(&name, &RingOptions::new().capacity(1024))?;
/// tx.send(b"12345")?;
/// let info = inspect(&name)?;
/// assert_eq!(info.capacity, 1024);
/// assert_eq!(info.fill, 16);
/// # Ok(()) }
/// ```
pub fn inspect(name: &str) -> Result<RingInfo> {
    segment::inspect_with(name, Some(&crate::kinds::RING), |map, info| {
        validate_ring(map, &info.name)?;
        let g = Attached::geometry_words(map);
        let sh: &RingShared = map.at(SHARED_OFFSET);
        let r = sh.read_pos.load(Ordering::Acquire);
        let w = sh.write_pos.load(Ordering::Acquire);
        Ok(RingInfo {
            segment: info.clone(),
            capacity: g.capacity.load(Ordering::Relaxed),
            max_message: g.max_message.load(Ordering::Relaxed),
            write_pos: w,
            read_pos: r,
            fill: w.saturating_sub(r),
            producer_attached: info.holds(PRODUCER_ROLE),
            consumer_attached: info.holds(CONSUMER_ROLE),
            producer_attaches: g.producer_attaches.load(Ordering::Relaxed),
            consumer_attaches: g.consumer_attaches.load(Ordering::Relaxed),
            // SYNC: a hint: Relaxed (see `ProducerCore::may_start_over`).
            // (`read_pos` is not validated here: a corrupt one may be u64::MAX.)
            consumer_waiting: Some(sh.consumer_waiting.load(Ordering::Relaxed)) == r.checked_add(1),
            consumer_asleep: sh.data_wake.waiters.load(Ordering::Relaxed) != 0,
            producer_asleep: sh.space_wake.waiters.load(Ordering::Relaxed) != 0,
            // SYNC: Relaxed: a report, no data rides on it.
            consumer_excuses: sh.data_excuse.flag.load(Ordering::Relaxed) != 0,
            producer_excuses: sh.space_excuse.flag.load(Ordering::Relaxed) != 0,
        })
    })
    .map(|(_, info)| info)
}

/// Which end of a [`duplex`] channel this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sends on `<name>.ab`, receives on `<name>.ba`.
    A,
    /// Sends on `<name>.ba`, receives on `<name>.ab`.
    B,
}

/// A two-way channel out of two rings, `<name>.ab` and `<name>.ba`, each opened or created
/// so that either side may start first. Returns this side's (sender, receiver).
///
/// ```
/// use ipcring::ring::{duplex, RingOptions, Side};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-duplex-{}", std::process::id());
/// let opts = RingOptions::new().capacity(4096);
/// let (mut a_tx, mut a_rx) = duplex(&name, Side::A, &opts)?;  // in process A
/// let (mut b_tx, mut b_rx) = duplex(&name, Side::B, &opts)?;  // in process B
/// a_tx.send(b"ping")?;
/// assert_eq!(&*b_rx.recv()?, b"ping");
/// b_tx.send(b"pong")?;
/// assert_eq!(&*a_rx.recv()?, b"pong");
/// # Ok(()) }
/// ```
pub fn duplex(name: &str, side: Side, opts: &RingOptions) -> Result<(Producer, Consumer)> {
    let (out, inn) = match side {
        Side::A => ("ab", "ba"),
        Side::B => ("ba", "ab"),
    };
    let tx = Producer::open_or_create(&format!("{name}.{out}"), opts)?;
    let rx = Consumer::open_or_create(&format!("{name}.{inn}"), opts)?;
    Ok((tx, rx))
}

/// Hooks for the async wrappers (`crate::ring::tokio`): the wake words and liveness checks
/// the blocking waits use, so an async waiter follows the same eventcount protocol.
#[cfg(feature = "async")]
impl Producer {
    /// The word the producer sleeps on while the ring is full, with its excuse word.
    pub(super) fn space_wake_word(&self) -> crate::wake::Sleep<'_> {
        self.ring.shared().space_sleep()
    }

    /// Room for a `len`-byte message if there is some now, as the core's reservation: it
    /// borrows nothing, so the async reserve can wait for it and only then make the
    /// [`Grant`] (see [`Producer::grant`]). Dropped unused, it reserved nothing: the
    /// producer alone takes room, so the same room is there at the next look.
    pub(super) fn reserve_room(&mut self, len: usize) -> Result<Option<Reservation>> {
        self.core.reserve(len)
    }
}

/// Hooks for the async wrappers (see the `Producer` block above).
#[cfg(feature = "async")]
impl Consumer {
    /// The word the consumer sleeps on while the ring is empty, with its excuse word.
    pub(super) fn data_wake_word(&self) -> crate::wake::Sleep<'_> {
        self.ring.shared().data_sleep()
    }

    /// True if a message is waiting now (does not consume it).
    pub(super) fn has_message(&mut self) -> Result<bool> {
        Ok(self.core.peek()?.is_some())
    }

    /// The async consumer's wait with `waiter` until `ready` yields, as
    /// [`Consumer::wait_message`]: it tells the producer that this consumer waits
    /// ([`ConsumerCore::announce_waiting`]), and withdraws that if the wait fails.
    pub(super) async fn wait_async<T>(
        &mut self,
        waiter: &mut crate::wake::tokio::Waiter,
        ready: impl FnMut(&mut Consumer) -> Result<Option<T>> + Send,
    ) -> Result<T> {
        self.core.announce_waiting();
        let waited = waiter.wait_for(self, ready, |c| c.peer_gone()).await;
        waited.inspect_err(|_| self.core.withdraw_waiting())
    }
}
