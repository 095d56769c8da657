//! The SPSC ring, awaited from tokio: [`AsyncProducer`] and [`AsyncConsumer`].
//!
//! The fast path is the blocking ring's own: a send or receive that finds room or a
//! message makes no system call, takes no lock and does not touch the scheduler. Only when
//! it must wait does a task spin for the ring's [`WaitStrategy`](crate::wake::WaitStrategy)
//! spin time, yielding to the scheduler between looks so other tasks on the same thread
//! run, then announce itself on the ring's wake word (the same eventcount the blocking form
//! uses) and sleep without a thread of its own until the peer's futex wake or the end of a
//! [`LIVENESS_SLICE`](crate::wake::LIVENESS_SLICE), when it checks that the peer is alive:
//! an io_uring futex wait where there is one (Linux 6.7+), else the process's one waker
//! thread (`futex_waitv`, Linux 5.16+), else a thread of tokio's blocking pool (see
//! `crate::wake::tokio`).
//!
//! So a ring costs nothing while no task waits on it (no thread, no registration, no
//! announcement: the peer's publish stays syscall-free), and waiting tasks share one
//! thread. The shared layout and the blocking protocol are unchanged: an async side talks
//! to a blocking peer and back. docs/methods/async.md says why this mechanism and what it
//! costs in wake latency.
//!
//! With [`WaitStrategy::Spin`](crate::wake::WaitStrategy::Spin) a task never sleeps on the futex: it keeps yielding (and
//! checking the peer's liveness every slice), which keeps one runtime thread busy.
//!
//! ```
//! use ipcring::ring::{AsyncConsumer, AsyncProducer};
//! use ipcring::ring::RingOptions;
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-aioring-{}", std::process::id());
//!     let mut rx = AsyncConsumer::create(&name, &RingOptions::new().capacity(4096))?;
//!     let mut tx = AsyncProducer::open(&name, &RingOptions::new())?;
//!     let reader = tokio::spawn(async move { rx.recv().await.map(|m| m.to_vec()) });
//!     tx.send(b"ping").await?;
//!     assert_eq!(reader.await.unwrap()?, b"ping");
//!     Ok(())
//! })
//! # }
//! ```

use crate::error::TryOutcome;
use crate::ring::{self, Consumer, Grant, Message, Producer, RingOptions, Side};
use crate::transport::{inherent_async_receiver, inherent_async_sender};
use crate::wake::tokio::{waited_handle, Waiter};
use crate::{Error, Result, TryRecvError, TrySendError};

/// The constructors and `get_ref` of [`AsyncProducer`] and [`AsyncConsumer`]: each opens
/// its blocking handle `$inner` (whose role is `$role_name`) and wraps it.
macro_rules! async_ring_handle_methods {
    ($inner:ident $role_name:literal) => {
        #[doc = concat!("Creates a ring and attaches as its ", $role_name, ":")]
        #[doc = concat!("[`", stringify!($inner), "::create`]. Does not wait.")]
        pub fn create(name: &str, opts: &RingOptions) -> Result<Self> {
            $inner::create(name, opts).map(Self::from)
        }

        #[doc = concat!("Opens a ring as its ", $role_name, ":")]
        #[doc = concat!("[`", stringify!($inner), "::open`]. This blocks the calling thread")]
        /// up to the open timeout while the ring is not there yet; from a task whose peer
        /// may start late, call it inside [`tokio::task::spawn_blocking`].
        pub fn open(name: &str, opts: &RingOptions) -> Result<Self> {
            $inner::open(name, opts).map(Self::from)
        }

        /// Opens the ring, or creates it:
        #[doc = concat!("[`", stringify!($inner), "::open_or_create`] (blocks as")]
        /// [`open`](Self::open) does while it waits for a ring another process is creating).
        pub fn open_or_create(name: &str, opts: &RingOptions) -> Result<Self> {
            $inner::open_or_create(name, opts).map(Self::from)
        }

        /// The blocking handle underneath (for its name, capacity, attachment state).
        pub fn get_ref(&self) -> &$inner {
            &self.inner
        }
    };
}

/// The sending side of a ring, for tokio. Wraps a [`Producer`].
///
/// ```
/// use ipcring::ring::AsyncProducer;
/// use ipcring::ring::RingOptions;
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let name = format!("/ipcring-aprod-{}", std::process::id());
/// let mut tx = AsyncProducer::create(&name, &RingOptions::new().capacity(1024))?;
/// rt.block_on(tx.send(b"queued until a consumer comes"))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncProducer detaches when dropped"]
pub struct AsyncProducer {
    inner: Producer,
    waiter: Waiter,
}

waited_handle!(AsyncProducer, Producer, space_wake_word);

impl AsyncProducer {
    async_ring_handle_methods!(Producer "producer");

    /// Copies `msg` into the ring, waiting for room.
    ///
    /// Cancel safe: the copy and its publication happen in one synchronous step, so a
    /// dropped future sent the whole message or none of it.
    /// [`Error::Disconnected`] if the consumer is gone, [`Error::MessageTooLarge`] if
    /// `msg` exceeds [`AsyncProducer::max_message`].
    pub async fn send(&mut self, msg: &[u8]) -> Result<()> {
        if self.inner.try_send(msg).done()? {
            return Ok(());
        }
        self.waiter
            .wait_for(
                &mut self.inner,
                |p| p.try_send(msg).ready(),
                |p| p.peer_gone(),
            )
            .await
    }

    /// Copies `msg` into the ring if there is room now (never waits);
    /// [`TrySendError::Full`] if not.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.inner.try_send(msg)
    }

    /// Reserves room for a `len`-byte message, waiting for it as [`AsyncProducer::send`]
    /// waits: write the message in place into the [`Grant`] (it derefs to `&mut [u8]` of
    /// `len` bytes), then [`Grant::commit`] it. Zero-copy: nothing is copied but what you
    /// write. Committing wakes a sleeping consumer, async or blocking, exactly as `send`
    /// does; [`Grant::commit_deferred`] publishes with the next commit or send instead (or
    /// when the producer drops). A grant dropped without a commit publishes nothing.
    ///
    /// [`Error::Disconnected`] if the consumer is gone, [`Error::MessageTooLarge`] if
    /// `len` exceeds [`AsyncProducer::max_message`] (at once, without waiting).
    ///
    /// # Cancel safety
    /// Cancel safe: waiting only looks at the ring, and the room is reserved in the same
    /// synchronous step that returns the [`Grant`]. A future dropped before it completed
    /// reserved nothing and published nothing: every message sent before it is intact and
    /// the next reserve or send goes on from there. (The producer side announces itself
    /// on the ring only inside the wait's sleep, and that announcement is withdrawn when
    /// the future drops, as for `send`.) Once you hold the grant, there is no `.await`
    /// left: a task cancelled while writing into it cannot be.
    ///
    /// ```
    /// use ipcring::ring::{AsyncConsumer, AsyncProducer};
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     let name = format!("/ipcring-areserve-{}", std::process::id());
    ///     let mut tx = AsyncProducer::create(&name, &RingOptions::new().capacity(4096))?;
    ///     let mut rx = AsyncConsumer::open(&name, &RingOptions::new())?;
    ///     let mut g = tx.reserve(5).await?;
    ///     g.copy_from_slice(b"hello"); // written in place, in the shared ring
    ///     g.commit();
    ///     assert_eq!(&*rx.recv().await?, b"hello");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn reserve(&mut self, len: usize) -> Result<Grant<'_>> {
        let res = match self.inner.reserve_room(len)? {
            Some(res) => res,
            None => {
                self.waiter
                    .wait_for(&mut self.inner, |p| p.reserve_room(len), |p| p.peer_gone())
                    .await?
            }
        };
        // The reservation was made in the look that ended the wait: no `.await` since.
        Ok(self.inner.grant(res))
    }

    /// Reserves room for a `len`-byte message if there is some now (never waits):
    /// [`Producer::try_reserve`]. [`TrySendError::Full`]: the ring is full, nothing was
    /// reserved.
    ///
    /// ```
    /// use ipcring::ring::AsyncProducer;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-atryreserve-{}", std::process::id());
    /// let mut tx = AsyncProducer::create(&name, &RingOptions::new().capacity(1024))?;
    /// let mut g = tx.try_reserve(3)?; // an empty ring has room
    /// g.copy_from_slice(b"abc");
    /// g.commit();
    /// # Ok(()) }
    /// ```
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>, TrySendError> {
        self.inner.try_reserve(len)
    }

    /// Largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.inner.max_message()
    }
}

inherent_async_sender!(AsyncProducer, max_message: |p| AsyncProducer::max_message(p));

/// The receiving side of a ring, for tokio. Wraps a [`Consumer`].
///
/// ```
/// use std::time::Duration;
/// use ipcring::ring::AsyncConsumer;
/// use ipcring::ring::RingOptions;
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let name = format!("/ipcring-acons-{}", std::process::id());
/// let mut rx = AsyncConsumer::create(&name, &RingOptions::new().capacity(1024))?;
/// let r = rt.block_on(async {
///     tokio::time::timeout(Duration::from_millis(5), rx.recv_into(&mut Vec::new())).await
/// });
/// assert!(r.is_err()); // timed out; nothing was taken
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncConsumer detaches when dropped"]
pub struct AsyncConsumer {
    inner: Consumer,
    waiter: Waiter,
}

waited_handle!(AsyncConsumer, Consumer, data_wake_word);

impl AsyncConsumer {
    async_ring_handle_methods!(Consumer "consumer");

    /// The next message, zero-copy (see [`Message`]), waiting for one. (The
    /// [`AsyncReceiver::recv`](crate::transport::AsyncReceiver::recv) of the trait, called
    /// as `AsyncReceiver::recv(&mut rx)`, returns a copy in a `Vec` instead.)
    ///
    /// Cancel safe: waiting only looks at the ring; the message is taken when this
    /// returns, so a dropped future took nothing. [`Error::Disconnected`] once the
    /// producer is gone and everything it sent was received.
    pub async fn recv(&mut self) -> Result<Message<'_>> {
        if !self.inner.has_message()? {
            self.inner
                .wait_async(&mut self.waiter, |c| Ok(c.has_message()?.then_some(())))
                .await?;
        }
        match self.inner.try_recv() {
            Ok(m) => Ok(m),
            Err(TryRecvError::Empty) => {
                Err(Error::corrupt("a message seen waiting was gone when taken"))
            }
            Err(TryRecvError::Failed(e)) => Err(e),
        }
    }

    /// Copies the next message into `buf` (cleared first), waiting for one.
    ///
    /// Cancel safe: the copy and the release of the message happen in one synchronous
    /// step, so a dropped future took no message (and `buf` may be left cleared).
    pub async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        if self.inner.try_recv_into(buf).done()? {
            return Ok(());
        }
        self.inner
            .wait_async(&mut self.waiter, |c| c.try_recv_into(buf).ready())
            .await
    }

    /// The next message if one is there now, zero-copy (never waits).
    #[must_use = "a received message is consumed: dropping it unread loses it"]
    pub fn try_recv(&mut self) -> Result<Message<'_>, TryRecvError> {
        self.inner.try_recv()
    }

    /// Copies the next message into `buf` if one is there now (never waits);
    /// [`TryRecvError::Empty`] if not.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        self.inner.try_recv_into(buf)
    }

    /// Largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.inner.max_message()
    }
}

inherent_async_receiver!(AsyncConsumer);

/// A two-way channel of two rings, as [`ring::duplex`], with async handles.
///
/// ```
/// use ipcring::ring::{async_duplex, RingOptions, Side};
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let name = format!("/ipcring-aduplex-{}", std::process::id());
///     let opts = RingOptions::new().capacity(4096);
///     let (mut a_tx, _a_rx) = async_duplex(&name, Side::A, &opts)?;
///     let (_b_tx, mut b_rx) = async_duplex(&name, Side::B, &opts)?;
///     a_tx.send(b"ping").await?;
///     assert_eq!(&*b_rx.recv().await?, b"ping");
///     Ok(())
/// })
/// # }
/// ```
pub fn async_duplex(
    name: &str,
    side: Side,
    opts: &RingOptions,
) -> Result<(AsyncProducer, AsyncConsumer)> {
    let (tx, rx) = ring::duplex(name, side, opts)?;
    Ok((tx.into(), rx.into()))
}
