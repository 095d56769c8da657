//! The two traits every method of the crate implements: [`Sender`] and [`Receiver`].
//!
//! A transport moves whole byte messages, in order, each delivered once. A transport
//! implements one deadline form of each direction ([`Sender::send_deadline`],
//! [`Receiver::recv_deadline_into`]); every other form is a provided method on top of it:
//!
//! | form | returns when | on no room / no message |
//! |------|--------------|-------------------------|
//! | `try_`      | at once              | `Err(TrySendError::Full)` / `Err(TryRecvError::Empty)` |
//! | blocking    | done, or peer gone   | waits |
//! | `_timeout`  | done, or time is up  | `Err(Error::Timeout)` |
//! | `_deadline` | done, or deadline passed | `Err(Error::Timeout)` |
//!
//! When the peer is gone, and everything it sent has been delivered, every form returns
//! [`Error::Disconnected`](crate::Error::Disconnected) (in a `try_` form:
//! `Failed(Error::Disconnected)`). `?` on a `try_` outcome in a function returning
//! [`crate::Result`] turns "full" and "empty" into
//! [`Error::WouldBlock`](crate::Error::WouldBlock), so a message is never dropped silently.
//!
//! The RPC layer, the comparison run and user code are written against these traits, so a
//! program can switch from a socket to a shared-memory ring by changing one constructor.
//!
//! # Example
//!
//! A function generic over any transport:
//!
//! ```
//! use ipcring::transport::{Receiver, Sender};
//! use ipcring::Result;
//!
//! fn echo_once<S: Sender, R: Receiver>(tx: &mut S, rx: &mut R) -> Result<()> {
//!     let mut buf = Vec::new();
//!     rx.recv_into(&mut buf)?;
//!     tx.send(&buf)
//! }
//! ```
//!
//! # Async forms (feature `async`)
//!
//! Every method has async (tokio) forms beside its blocking ones, in its own module, and
//! they implement [`AsyncSender`] and [`AsyncReceiver`], with the same semantics as
//! [`Sender`] / [`Receiver`]: whole messages, in order,
//! [`Error::Disconnected`](crate::Error::Disconnected) once the peer is gone and everything
//! it sent was delivered; timeouts are tokio's own
//! ([`tokio::time::timeout`](::tokio::time::timeout)), which the `_timeout` forms wrap.
//!
//! | transport | async type | how a task waits |
//! |---|---|---|
//! | ring ([`crate::ring`]) | [`ring::AsyncProducer`](crate::ring::AsyncProducer), [`ring::AsyncConsumer`](crate::ring::AsyncConsumer) | spin (yielding to the scheduler), then the ring's own futex eventcount, slept on for every waiting task by one waker thread per process, *only while a task waits* (docs/methods/async.md says why) |
//! | broadcast subscriber, seqlock reader | `broadcast::AsyncSubscriber`, `seqlock::AsyncReader` | as the ring (their wake words are the same eventcount) |
//! | socket (feature `socket`) | `socket::AsyncConnection`, `socket::AsyncListener` | epoll readiness through [`tokio::io::unix::AsyncFd`](::tokio::io::unix::AsyncFd): no thread, no polling loop |
//! | message queue (feature `mq`) | `mq::AsyncMessageQueue` | the queue descriptor's readiness through `AsyncFd` |
//! | named pipe (feature `pipe`) | `pipe::AsyncPipeSender`, `pipe::AsyncPipeReceiver` | the pipe's readiness through `AsyncFd`; inotify while no reader is there |
//! | service ([`crate::service`]) | [`service::AsyncClient`](crate::service::AsyncClient), [`service::AsyncListener`](crate::service::AsyncListener) | as the ring, on the client's answer word and the listener's server word |
//!
//! With feature `rpc`, [`rpc::AsyncClient`](crate::rpc::AsyncClient) calls a
//! [`Server`](crate::rpc::Server) over any of these: many calls in flight from many tasks
//! over one connection.
//!
//! Every type needs a tokio runtime (current-thread or multi-thread). Waiting on a ring
//! may fall back to [`tokio::task::spawn_blocking`](::tokio::task::spawn_blocking) (where
//! `futex_waitv` is missing), so the runtime must have its blocking pool (every runtime
//! built by `tokio::runtime::Builder` or `#[tokio::main]` does); the rest of the crate's
//! async types need its I/O driver (`enable_io`, or `enable_all`).
//!
//! ## Cancellation
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
//! ## Streams
//! Every [`AsyncReceiver`] becomes a [`futures_core::Stream`] of its messages with
//! [`AsyncReceiver::into_stream`] ([`ReceiverStream`]): one `Ok(message)` per message, in
//! order, ending when the peer is gone; as cancel safe as `recv`.
//!
//! ## Example
//!
//! ```
//! use ipcring::ring::{AsyncConsumer, AsyncProducer};
//! use ipcring::transport::{AsyncReceiver, AsyncSender};
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
//!
//! # A transport of its own
//!
//! Write the two deadline forms and `max_message`; every other form comes free:
//!
//! ```
//! use std::collections::VecDeque;
//! use ipcring::transport::{Deadline, Receiver, Sender};
//! use ipcring::{Error, Result, TryRecvError};
//!
//! /// A bounded in-process queue (one side for both roles, for the example).
//! struct Queue(VecDeque<Vec<u8>>);
//!
//! impl Sender for Queue {
//!     fn send_deadline(&mut self, msg: &[u8], _deadline: Deadline) -> Result<()> {
//!         if self.0.len() == 2 {
//!             return Err(Error::Timeout); // nobody else can make room here
//!         }
//!         self.0.push_back(msg.to_vec());
//!         Ok(())
//!     }
//!     fn max_message(&self) -> usize {
//!         usize::MAX
//!     }
//! }
//!
//! impl Receiver for Queue {
//!     fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, _deadline: Deadline) -> Result<()> {
//!         buf.clear();
//!         let msg = self.0.pop_front().ok_or(Error::Timeout)?;
//!         buf.extend_from_slice(&msg);
//!         Ok(())
//!     }
//! }
//!
//! let mut q = Queue(VecDeque::new());
//! q.try_send(b"a").unwrap();
//! q.try_send(b"b").unwrap();
//! assert!(q.try_send(b"c").unwrap_err().is_full());
//! assert_eq!(q.try_recv().unwrap(), b"a");
//! assert_eq!(q.recv().unwrap(), b"b");
//! assert!(matches!(q.try_recv(), Err(TryRecvError::Empty)));
//! ```

use std::time::Duration;

pub use crate::deadline::Deadline;
use crate::error::{TryRecvError, TrySendError};
use crate::Result;

// The async (tokio) forms of the two traits, and the pieces every async transport shares.
#[cfg(all(
    feature = "async",
    any(all(feature = "file", target_os = "linux"), feature = "redis")
))]
pub(crate) mod pool;
#[cfg(feature = "async")]
mod tokio;

#[cfg(feature = "async")]
pub(crate) use self::tokio::{inherent_async_receiver, inherent_async_sender, within};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{AsyncReceiver, AsyncSender, ReceiverStream};

/// The sending half of a transport: moves whole byte messages to the peer.
///
/// Implement [`send_deadline`](Sender::send_deadline) and
/// [`max_message`](Sender::max_message); the other forms are provided on top of them (a
/// transport with a faster way may override them).
pub trait Sender {
    /// Sends `msg`, waiting for room until `deadline` at the latest.
    ///
    /// Returns [`Error::Timeout`](crate::Error::Timeout) when the deadline passes with
    /// nothing sent, [`Error::Disconnected`](crate::Error::Disconnected) if the peer is
    /// gone, and [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) if `msg` exceeds
    /// the transport's maximum. With [`Deadline::immediate`] it sends only if there is
    /// room now.
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()>;

    /// The largest message this sender accepts, in bytes.
    fn max_message(&self) -> usize;

    /// Sends `msg`, waiting for room as long as needed.
    ///
    /// Returns [`Error::Disconnected`](crate::Error::Disconnected) if the peer is gone, and
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) if `msg` exceeds the
    /// transport's maximum.
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_deadline(msg, Deadline::forever())
    }

    /// Sends `msg` if there is room now. [`TrySendError::Full`] means no room: nothing was
    /// sent.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        TrySendError::from_deadline(self.send_deadline(msg, Deadline::immediate()))
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    /// [`Error::Timeout`](crate::Error::Timeout) means nothing was sent.
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.send_deadline(msg, Deadline::after(timeout))
    }
}

/// The receiving half of a transport: receives whole byte messages from the peer.
///
/// Implement [`recv_deadline_into`](Receiver::recv_deadline_into); the other forms are
/// provided on top of it (a transport with a faster way may override them).
pub trait Receiver {
    /// Receives the next message into `buf` (cleared first), waiting until `deadline` at
    /// the latest.
    ///
    /// Returns [`Error::Timeout`](crate::Error::Timeout) when the deadline passes with no
    /// message (`buf` is then left empty), and
    /// [`Error::Disconnected`](crate::Error::Disconnected) once the peer is gone and every
    /// message it sent has been received. With [`Deadline::immediate`] it takes a message
    /// only if one is there now.
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()>;

    /// Receives the next message into `buf` (cleared first), waiting as long as needed.
    ///
    /// Returns [`Error::Disconnected`](crate::Error::Disconnected) once the peer is gone
    /// and every message it sent has been received.
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        self.recv_deadline_into(buf, Deadline::forever())
    }

    /// Receives the next message into `buf` (cleared first) if one is there now.
    /// [`TryRecvError::Empty`] means none was waiting; `buf` is then left empty.
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        TryRecvError::from_deadline(self.recv_deadline_into(buf, Deadline::immediate()))
    }

    /// Receives the next message into `buf` (cleared first), waiting at most `timeout`.
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        self.recv_deadline_into(buf, Deadline::after(timeout))
    }

    /// Receives the next message into a new `Vec`, waiting as long as needed.
    fn recv(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into a new `Vec` if one is there now.
    fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into a new `Vec`, waiting at most `timeout`.
    fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_timeout_into(&mut buf, timeout)?;
        Ok(buf)
    }
}

/// Forwards every method a transport may override, so an override is kept through a
/// reference or a box.
macro_rules! forward_transport {
    ($($ty:ty),*) => {$(
        impl<S: Sender + ?Sized> Sender for $ty {
            fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
                (**self).send_deadline(msg, deadline)
            }
            fn max_message(&self) -> usize {
                (**self).max_message()
            }
            fn send(&mut self, msg: &[u8]) -> Result<()> {
                (**self).send(msg)
            }
            fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
                (**self).try_send(msg)
            }
            fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
                (**self).send_timeout(msg, timeout)
            }
        }

        impl<S: Receiver + ?Sized> Receiver for $ty {
            fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
                (**self).recv_deadline_into(buf, deadline)
            }
            fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
                (**self).recv_into(buf)
            }
            fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
                (**self).try_recv_into(buf)
            }
            fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
                (**self).recv_timeout_into(buf, timeout)
            }
            fn recv(&mut self) -> Result<Vec<u8>> {
                (**self).recv()
            }
            fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
                (**self).try_recv()
            }
            fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>> {
                (**self).recv_timeout(timeout)
            }
        }
    )*};
}

forward_transport!(&mut S, Box<S>);

/// A deadline function's "did it happen" as the trait's outcome: `false` (nothing done
/// before the deadline) is [`Error::Timeout`](crate::Error::Timeout).
#[cfg(any(feature = "pipe", feature = "file", feature = "socket"))]
pub(crate) fn done_by_deadline(done: bool) -> Result<()> {
    done.then_some(()).ok_or(crate::Error::Timeout)
}
