//! The two traits every method of the crate implements: [`Sender`] and [`Receiver`].
//!
//! A transport moves whole byte messages, in order, each delivered once. Every operation
//! comes in three forms:
//!
//! | form | returns when | on no room / no message |
//! |------|--------------|-------------------------|
//! | `try_`     | at once              | `Ok(false)` |
//! | blocking   | done, or peer gone   | waits |
//! | `_timeout` | done, or time is up  | `Err(Error::Timeout)` |
//!
//! When the peer is gone, and everything it sent has been delivered, every form returns
//! [`Error::Disconnected`](crate::Error::Disconnected).
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

use std::time::Duration;

use crate::Result;

// The async (tokio) forms of the two traits, and the pieces every async transport shares.
#[cfg(all(
    feature = "async",
    any(all(feature = "file", target_os = "linux"), feature = "redis")
))]
pub(crate) mod pool;
#[cfg(feature = "async")]
mod stream;
#[cfg(feature = "async")]
mod tokio;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::stream::ReceiverStream;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{AsyncReceiver, AsyncSender};

/// The sending half of a transport: moves whole byte messages to the peer.
pub trait Sender {
    /// Sends `msg`, waiting for room as long as needed.
    ///
    /// Returns [`Error::Disconnected`](crate::Error::Disconnected) if the peer is gone, and
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) if `msg` exceeds the
    /// transport's maximum.
    fn send(&mut self, msg: &[u8]) -> Result<()>;

    /// Sends `msg` if there is room now. `Ok(false)` means no room: nothing was sent.
    #[must_use = "false means the channel was full and the message was not sent"]
    fn try_send(&mut self, msg: &[u8]) -> Result<bool>;

    /// Sends `msg`, waiting at most `timeout` for room.
    /// [`Error::Timeout`](crate::Error::Timeout) means nothing was sent.
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()>;

    /// The largest message this sender accepts, in bytes.
    fn max_message(&self) -> usize;
}

/// The receiving half of a transport: receives whole byte messages from the peer.
pub trait Receiver {
    /// Receives the next message into `buf` (cleared first), waiting as long as needed.
    ///
    /// Returns [`Error::Disconnected`](crate::Error::Disconnected) once the peer is gone
    /// and every message it sent has been received.
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()>;

    /// Receives the next message into `buf` (cleared first) if one is there now.
    /// `Ok(false)` means none was waiting; `buf` is then left empty.
    #[must_use = "false means nothing was received and `buf` holds no new message"]
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool>;

    /// Receives the next message into `buf` (cleared first), waiting at most `timeout`.
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()>;

    /// Receives the next message into a new `Vec`, waiting as long as needed.
    fn recv(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into a new `Vec`, waiting at most `timeout`.
    fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_timeout_into(&mut buf, timeout)?;
        Ok(buf)
    }
}

impl<S: Sender + ?Sized> Sender for &mut S {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        (**self).send(msg)
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<bool> {
        (**self).try_send(msg)
    }
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        (**self).send_timeout(msg, timeout)
    }
    fn max_message(&self) -> usize {
        (**self).max_message()
    }
}

impl<R: Receiver + ?Sized> Receiver for &mut R {
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        (**self).recv_into(buf)
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        (**self).try_recv_into(buf)
    }
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        (**self).recv_timeout_into(buf, timeout)
    }
}

impl<S: Sender + ?Sized> Sender for Box<S> {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        (**self).send(msg)
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<bool> {
        (**self).try_send(msg)
    }
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        (**self).send_timeout(msg, timeout)
    }
    fn max_message(&self) -> usize {
        (**self).max_message()
    }
}

impl<R: Receiver + ?Sized> Receiver for Box<R> {
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        (**self).recv_into(buf)
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        (**self).try_recv_into(buf)
    }
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        (**self).recv_timeout_into(buf, timeout)
    }
}

/// A deadline helper shared by the `_timeout` forms of every method.
///
/// ```
/// use std::time::Duration;
/// use ipcring::transport::Deadline;
/// let d = Deadline::after(Duration::from_millis(5));
/// assert!(!d.is_forever());
/// assert!(Deadline::forever().remaining().is_none());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// A deadline `timeout` from now (saturating: a huge timeout means no deadline).
    pub fn after(timeout: Duration) -> Deadline {
        Deadline::starting_at(std::time::Instant::now(), Some(timeout))
    }

    /// `timeout` after `start` (`None`, or a timeout too large to represent: no deadline).
    /// For waits that read the clock only once they find nothing to do.
    pub(crate) fn starting_at(start: std::time::Instant, timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| start.checked_add(t)))
    }

    /// No deadline.
    pub fn forever() -> Deadline {
        Deadline(None)
    }

    /// True if this deadline never expires.
    pub fn is_forever(&self) -> bool {
        self.0.is_none()
    }

    /// Time left: `None` for no deadline, `Some(ZERO)` once expired.
    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .map(|t| t.saturating_duration_since(std::time::Instant::now()))
    }

    /// True once the deadline has passed.
    pub fn expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
    }
}
