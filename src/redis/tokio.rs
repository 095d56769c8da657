//! Redis for tokio: the blocking [`Publisher`], [`Subscriber`], [`StreamProducer`] and
//! [`StreamConsumer`] run on tokio's blocking pool ([`tokio::task::spawn_blocking`]),
//! wrapped in [`Pooled`] ([`AsyncPublisher`], [`AsyncSubscriber`], [`AsyncStreamProducer`],
//! [`AsyncStreamConsumer`]).
//!
//! This is a plain wrapper, not the redis crate's own async client: everything the blocking
//! types do (reconnection with backoff, gap reports, consumer groups, acknowledgements) is
//! theirs, unchanged, and the wire is the same, so async and blocking peers mix freely.
//! Each operation borrows one pool thread while it runs; one operation at a time per handle.
//! Sends are pipelined exactly as the blocking types' ([`crate::redis#pipelining`]): a
//! `send` resolves once the message is written to the connection (queued, with the opt-in
//! [`RedisOptions::coalesce`](crate::redis::RedisOptions::coalesce)); to know the server has
//! every message, flush through [`Pooled::with`] (`tx.with(|p| p.flush()).await`).
//! The runtime needs its blocking pool (every runtime built by `tokio::runtime::Builder`
//! has one).
//!
//! # Cancellation: what a dropped future means here
//!
//! An operation that started on the pool cannot be stopped: **a dropped future may still
//! complete its operation in the background**. The handle is busy until it ends; the next
//! operation on the handle waits for it first, so order is kept.
//! - A dropped `send` may still publish / add the message (whole: Redis never tears one).
//!   Its outcome is not reported; to know it, let `send` complete.
//! - A dropped `recv` loses no message: a receive waits on the pool in slices of at most
//!   100 ms, and a message taken by a slice whose future was dropped is kept in the handle
//!   and returned by the next `recv` / `try_recv`. (A dropped `recv` therefore also keeps
//!   a pool thread for at most one slice.)
//! - A dropped [`Pooled::with`] still runs its closure to the end; its result is dropped.
//!
//! ```no_run
//! use ipcring::redis::{AsyncPublisher, AsyncSubscriber};
//! use ipcring::transport::{AsyncReceiver, AsyncSender};
//! use ipcring::redis::{Publisher, RedisOptions, Subscriber};
//!
//! # async fn f() -> ipcring::Result<()> {
//! let url = "redis://127.0.0.1:6379";
//! let opts = RedisOptions::new();
//! let mut rx = AsyncSubscriber::connect(url, move |u| Subscriber::connect(u, "news", &opts)).await?;
//! let mut tx = AsyncPublisher::connect(url, |u| Publisher::connect(u, "news", &RedisOptions::new())).await?;
//! tx.send(b"hello").await?;
//! assert_eq!(rx.recv().await?, b"hello");
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::redis::{Publisher, StreamConsumer, StreamProducer, Subscriber};
use crate::transport::pool::{Kind, Pool};
use crate::transport::{AsyncReceiver, AsyncSender};
use crate::transport::{Receiver, Sender};
use crate::{Error, Result, TryRecvError, TrySendError};

/// Longest a receive waits on the pool in one go (see the module docs).
const RECV_SLICE: Duration = Duration::from_millis(100);

/// [`Publisher`] on the blocking pool.
pub type AsyncPublisher = Pooled<Publisher>;
/// [`Subscriber`] on the blocking pool.
pub type AsyncSubscriber = Pooled<Subscriber>;
/// [`StreamProducer`] on the blocking pool.
pub type AsyncStreamProducer = Pooled<StreamProducer>;
/// [`StreamConsumer`] on the blocking pool.
///
///
/// **Known issue (open)**: in a test process that was also receiving signals from another
/// process (the signal tests of the same binary), a consumer skipped one or two entries in
/// about one run of four; with the tests kept apart, 6 runs of 6 delivered everything, with
/// receives cancelled all along. The likely cause is a signal that interrupts (`EINTR`) the
/// blocking consumer's read on a pool thread, so it is probably the blocking
/// [`StreamConsumer`]'s, not this wrapper's; it is not confirmed yet. Block the signals you
/// expect in the pool threads (or create a signal listener before the runtime) meanwhile.
pub type AsyncStreamConsumer = Pooled<StreamConsumer>;

/// A blocking Redis handle `T` whose operations run on tokio's blocking pool, one at a time.
/// [`AsyncSender`] when `T` is a [`Sender`], [`AsyncReceiver`] when `T` is a [`Receiver`];
/// any other method of `T` through [`Pooled::with`]. See the module docs for cancellation.
///
/// ```no_run
/// use ipcring::redis::AsyncStreamConsumer;
/// use ipcring::redis::{AckMode, StreamConsumer, StreamOptions};
/// use ipcring::transport::Deadline;
/// # async fn f() -> ipcring::Result<()> {
/// let opts = StreamOptions::new().ack_mode(AckMode::Manual);
/// let mut rx = AsyncStreamConsumer::connect("redis://127.0.0.1:6379", move |u| {
///     StreamConsumer::connect(u, "orders", "billing", "worker-1", &opts)
/// })
/// .await?;
/// let entry = rx.with(|c| c.recv_entry(Deadline::forever())).await?;
/// rx.with(move |c| c.ack(&entry.id)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pooled<T> {
    pool: Pool<T>,
    max_message: usize,
}

impl<T: Send + 'static> Pooled<T> {
    /// Wraps a connected handle.
    ///
    /// ```no_run
    /// use ipcring::redis::{Publisher, RedisOptions};
    /// let p = Publisher::connect("redis://127.0.0.1:6379", "news", &RedisOptions::new())?;
    /// let p = ipcring::redis::AsyncPublisher::new(p);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn new(inner: T) -> Pooled<T> {
        Pooled {
            pool: Pool::new(inner),
            max_message: usize::MAX,
        }
    }

    /// Connects on the blocking pool: runs `connect(url)` there (a blocking `connect`
    /// may wait for the server, with the options' backoff) and wraps the handle.
    ///
    /// ```no_run
    /// use ipcring::redis::AsyncStreamProducer;
    /// use ipcring::redis::{StreamOptions, StreamProducer};
    /// # async fn f() -> ipcring::Result<()> {
    /// let tx = AsyncStreamProducer::connect("redis://127.0.0.1:6379", |u| {
    ///     StreamProducer::connect(u, "orders", &StreamOptions::new())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect<F>(url: &str, connect: F) -> Result<Pooled<T>>
    where
        F: FnOnce(&str) -> Result<T> + Send + 'static,
    {
        let url = url.to_owned();
        let t = tokio::task::spawn_blocking(move || connect(&url))
            .await
            .map_err(|e| Error::io("connect on the tokio blocking pool", e.into()))??;
        Ok(Pooled::new(t))
    }

    /// Runs `f` on the handle on the blocking pool (after any operation a dropped future
    /// left running) and returns its result. For the methods the traits do not cover:
    /// `recv_entry`, `ack`, `take_gap`, `pending` and so on.
    ///
    /// Dropped before it completes, `f` still runs to its end in the background; its
    /// result is dropped.
    ///
    /// ```no_run
    /// # async fn f(rx: &mut ipcring::redis::AsyncSubscriber) -> ipcring::Result<()> {
    /// if let Some(gap) = rx.with(|s| Ok(s.take_gap())).await? {
    ///     eprintln!("missed messages for {:?}", gap.duration());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn with<R, F>(&mut self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut T) -> Result<R> + Send + 'static,
    {
        self.pool.run(Kind::Other, f).await?
    }

    /// Waits for an operation a dropped future left running. Cancel safe.
    ///
    /// ```no_run
    /// # async fn f(tx: &mut ipcring::redis::AsyncPublisher) -> ipcring::Result<()> {
    /// tx.settle().await?;
    /// assert!(tx.get_ref().is_some());
    /// # Ok(()) }
    /// ```
    pub async fn settle(&mut self) -> Result<()> {
        self.pool.settle().await
    }

    /// The blocking handle, unless an operation is running on the pool right now.
    pub fn get_ref(&self) -> Option<&T> {
        self.pool.get_ref()
    }

    /// Takes the blocking handle back after waiting for any running operation. A message a
    /// dropped `recv` left in the wrapper is returned with it.
    ///
    /// ```no_run
    /// # async fn f(rx: ipcring::redis::AsyncSubscriber) -> ipcring::Result<()> {
    /// let (blocking, kept) = rx.into_inner().await?;
    /// # Ok(()) }
    /// ```
    pub async fn into_inner(mut self) -> Result<(T, Option<Result<Vec<u8>>>)> {
        self.pool.settle().await?;
        let stash = self.pool.take_stash();
        let t = self.pool.take();
        t.map(|t| (t, stash))
            .ok_or_else(|| Error::corrupt("redis handle missing after settle"))
    }
}

impl<T: Sender + Send + 'static> AsyncSender for Pooled<T> {
    /// Sends on the blocking pool ([`Sender::send`], with its retries). **A dropped future
    /// may still send the message** in the background (module docs).
    async fn send(&mut self, msg: &[u8]) -> Result<()> {
        // The limit as last seen, for when the handle is out on the blocking pool.
        if let Some(t) = self.pool.get_ref() {
            self.max_message = Sender::max_message(t);
        }
        self.pool.send(msg, self.max_message).await
    }

    /// One attempt on the calling thread (it does network I/O there);
    /// `Full` also while an operation runs on the pool.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.pool.try_send(msg)
    }

    fn max_message(&self) -> usize {
        self.pool
            .get_ref()
            .map_or(self.max_message, Sender::max_message)
    }
}

impl<T: Receiver + Send + 'static> AsyncReceiver for Pooled<T> {
    /// Receives on the blocking pool, in slices of at most 100 ms. Cancel safe: a message
    /// taken by a slice whose future was dropped is kept and returned by the next receive.
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        loop {
            self.pool.settle().await?;
            if self.pool.take_stash_into(buf)? {
                return Ok(());
            }
            let got: Result<Option<Vec<u8>>> = self
                .pool
                .run(Kind::Recv, |t| {
                    let mut v = Vec::new();
                    match Receiver::recv_timeout_into(t, &mut v, RECV_SLICE) {
                        Ok(()) => Ok(Some(v)),
                        Err(Error::Timeout) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            if let Some(m) = got? {
                *buf = m;
                return Ok(());
            }
        }
    }

    /// A message kept from a dropped `recv`, else one non-blocking look on the calling
    /// thread (it does network I/O there); `Empty` also while a receive runs on the pool.
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        buf.clear();
        if !self.pool.settle_now()? {
            return Err(TryRecvError::Empty);
        }
        if self.pool.take_stash_into(buf)? {
            return Ok(());
        }
        match self.pool.get_mut() {
            Some(t) => Receiver::try_recv_into(t, buf),
            None => Err(TryRecvError::Empty),
        }
    }
}
