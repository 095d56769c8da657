//! Async (tokio) forms of the transports: [`AsyncSender`] and [`AsyncReceiver`], with the
//! same semantics as the blocking [`Sender`](crate::Sender) / [`Receiver`](crate::Receiver):
//! whole messages, in order, [`Error::Disconnected`] once the peer is gone and everything it
//! sent was delivered; timeouts are tokio's own ([`tokio::time::timeout`]), which the
//! `_timeout` forms wrap.
//!
//! | transport | async type | how a task waits |
//! |---|---|---|
//! | ring ([`crate::ring`]) | [`ring::AsyncProducer`], [`ring::AsyncConsumer`] | spin (yielding to the scheduler), then the ring's own futex eventcount, slept on for every waiting task by one waker thread per process, *only while a task waits* (docs/methods/async.md says why) |
//! | broadcast subscriber, seqlock reader | `broadcast::AsyncSubscriber`, `seqlock::AsyncReader` | as the ring (their wake words are the same eventcount) |
//! | socket (feature `socket`) | `socket::AsyncConnection`, `socket::AsyncListener` | epoll readiness through [`tokio::io::unix::AsyncFd`]: no thread, no polling loop |
//! | message queue (feature `mq`) | `mq::AsyncMessageQueue` | the queue descriptor's readiness through `AsyncFd` |
//! | named pipe (feature `pipe`) | `pipe::AsyncPipeSender`, `pipe::AsyncPipeReceiver` | the pipe's readiness through `AsyncFd`; inotify while no reader is there |
//! | service ([`crate::service`]) | [`service::AsyncClient`], [`service::AsyncListener`] | as the ring, on the client's answer word and the listener's server word |
//!
//! With feature `rpc`, [`rpc::AsyncClient`] calls a [`Server`](crate::rpc::Server) over any
//! of these: many calls in flight from many tasks over one connection.
//!
//! Every type needs a tokio runtime (current-thread or multi-thread). Waiting on a ring
//! may fall back to [`tokio::task::spawn_blocking`] (where `futex_waitv` is missing), so
//! the runtime must have its blocking pool (every runtime built by
//! `tokio::runtime::Builder` or `#[tokio::main]` does); the rest of the crate's async
//! types need its I/O driver (`enable_io`, or `enable_all`).
//!
//! # Cancellation
//! Every future here is cancel safe, and each method says so:
//! - dropping a `recv` future never loses a message: a message is taken out of the
//!   transport in one synchronous step that completes before the future returns, so a future
//!   dropped at an `.await` has taken nothing (a socket's partial frame stays buffered in
//!   the receiver and the next `recv` continues it);
//! - dropping a `send` future either sent the whole message or none of it (a ring copies
//!   the message in one synchronous step; a socket frame whose first byte went out is kept
//!   in the sender and finished by its next operation, see `AsyncConnection::send`).
//!
//! So `tokio::time::timeout(d, rx.recv())` and `tokio::select!` are safe to use.
//!
//! # Streams
//! Every [`AsyncReceiver`] becomes a [`futures_core::Stream`] of its messages with
//! [`AsyncReceiver::into_stream`] ([`ReceiverStream`]): one `Ok(message)` per message, in
//! order, ending when the peer is gone; as cancel safe as `recv`.
//!
//! # Example
//!
//! ```
//! use ipcring::aio::ring::{AsyncConsumer, AsyncProducer};
//! use ipcring::aio::{AsyncReceiver, AsyncSender};
//! use ipcring::ring::RingOptions;
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-aiodoc-{}", std::process::id());
//!     let opts = RingOptions::new().capacity(4096);
//!     let mut tx = AsyncProducer::create(&name, &opts)?;
//!     let mut rx = AsyncConsumer::open(&name, &opts)?;
//!     tx.send(b"hello").await?;
//!     assert_eq!(&*rx.recv().await?, b"hello"); // zero-copy guard (inherent `recv`)
//!     tx.send(b"again").await?;
//!     assert_eq!(AsyncReceiver::recv(&mut rx).await?, b"again"); // the trait's: a Vec
//!     Ok(())
//! })
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use crate::{Error, Result, TryRecvError, TrySendError};

pub mod broadcast;
#[cfg(all(feature = "file", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "file", target_os = "linux"))))]
pub mod file;
// The queue descriptor is a file descriptor that epoll watches on Linux only.
#[cfg(all(feature = "mq", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "mq", target_os = "linux"))))]
pub mod mq;
#[cfg(feature = "pipe")]
#[cfg_attr(docsrs, doc(cfg(feature = "pipe")))]
pub mod pipe;
#[cfg(any(all(feature = "file", target_os = "linux"), feature = "redis"))]
pub(crate) mod pool;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod ring;
#[cfg(feature = "rpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "rpc")))]
pub mod rpc;
pub mod seqlock;
pub mod service;
#[cfg(all(feature = "signal", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "signal", target_os = "linux"))))]
pub mod signal;
#[cfg(feature = "socket")]
#[cfg_attr(docsrs, doc(cfg(feature = "socket")))]
pub mod socket;
mod stream;
#[cfg(any(target_os = "linux", feature = "pipe", feature = "socket"))]
pub(crate) mod watched;

pub use stream::ReceiverStream;

/// The sending half of an async transport: moves whole byte messages to the peer.
///
/// ```
/// use ipcring::aio::AsyncSender;
/// async fn greet<S: AsyncSender>(tx: &mut S) -> ipcring::Result<()> {
///     tx.send(b"hello").await
/// }
/// ```
pub trait AsyncSender: Send {
    /// Sends `msg`, waiting for room as long as needed. Cancel safe: dropped before it
    /// completes, the whole message was sent or none of it.
    fn send(&mut self, msg: &[u8]) -> impl Future<Output = Result<()>> + Send;

    /// Sends `msg` if there is room now, without waiting. [`TrySendError::Full`]: nothing
    /// was sent.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError>;

    /// Sends `msg`, waiting at most `timeout` (tokio's timer). [`Error::Timeout`] means
    /// nothing was sent (or, on a socket, see its `send`).
    fn send_timeout(
        &mut self,
        msg: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            tokio::time::timeout(timeout, self.send(msg))
                .await
                .unwrap_or(Err(Error::Timeout))
        }
    }

    /// The largest message this sender accepts, in bytes.
    fn max_message(&self) -> usize;
}

/// The receiving half of an async transport: receives whole byte messages from the peer.
///
/// ```
/// use ipcring::aio::AsyncReceiver;
/// async fn next_len<R: AsyncReceiver>(rx: &mut R) -> ipcring::Result<usize> {
///     Ok(rx.recv().await?.len())
/// }
/// ```
pub trait AsyncReceiver: Send {
    /// Receives the next message into `buf` (cleared first), waiting as long as needed.
    /// Cancel safe: a dropped future has taken no message.
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = Result<()>> + Send;

    /// Receives the next message into `buf` if one is there now. [`TryRecvError::Empty`]:
    /// none (`buf` is then empty).
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError>;

    /// Receives the next message into `buf`, waiting at most `timeout` (tokio's timer).
    /// On [`Error::Timeout`] no message was taken.
    fn recv_timeout_into(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            tokio::time::timeout(timeout, self.recv_into(buf))
                .await
                .unwrap_or(Err(Error::Timeout))
        }
    }

    /// Receives the next message into a new `Vec`. Cancel safe.
    fn recv(&mut self) -> impl Future<Output = Result<Vec<u8>>> + Send {
        async move {
            let mut buf = Vec::new();
            self.recv_into(&mut buf).await?;
            Ok(buf)
        }
    }

    /// Receives the next message into a new `Vec` if one is there now.
    fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into a new `Vec`, waiting at most `timeout`. Cancel safe.
    fn recv_timeout(&mut self, timeout: Duration) -> impl Future<Output = Result<Vec<u8>>> + Send {
        async move {
            let mut buf = Vec::new();
            self.recv_timeout_into(&mut buf, timeout).await?;
            Ok(buf)
        }
    }

    /// This receiver as a [`futures_core::Stream`] of its messages, ending (`None`) when
    /// the peer is gone: [`ReceiverStream::new`] (its docs say how it ends and why it is
    /// cancel safe).
    ///
    /// ```
    /// use ipcring::aio::ring::{AsyncConsumer, AsyncProducer};
    /// use ipcring::aio::AsyncReceiver;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     let name = format!("/ipcring-intostream-{}", std::process::id());
    ///     let opts = RingOptions::new().capacity(4096);
    ///     let mut messages = AsyncConsumer::create(&name, &opts)?.into_stream();
    ///     let mut tx = AsyncProducer::open(&name, &opts)?;
    ///     tx.send(b"hello").await?;
    ///     drop(tx);
    ///     assert_eq!(messages.next().await.transpose()?.as_deref(), Some(&b"hello"[..]));
    ///     assert!(messages.next().await.is_none()); // the producer left
    ///     Ok(())
    /// })
    /// # }
    /// ```
    fn into_stream(self) -> ReceiverStream<Self>
    where
        Self: Sized + 'static,
    {
        ReceiverStream::new(self)
    }
}
