//! POSIX message queues for tokio: [`AsyncMessageQueue`].
//!
//! On Linux a queue descriptor is a file descriptor that epoll reports readable while
//! messages wait and writable while there is room, so a task waits on readiness through
//! [`tokio::io::unix::AsyncFd`]: no thread, no polling loop. Each send or receive is one
//! non-blocking `mq_timedsend`/`mq_timedreceive`, which the kernel does whole or not at all.
//!
//! As with the blocking [`MessageQueue`], a waiting task looks whether its peers are alive
//! every [`LIVENESS_SLICE`](crate::mq::LIVENESS_SLICE) (so the runtime needs its time driver,
//! `enable_time` or `enable_all`) and returns `Error::Disconnected` once they are all gone
//! (see [the blocking queue's docs](crate::mq#peer-death)); with [`MqOptions::liveness`]
//! off it waits for a message or room only.
//!
//! ```
//! use ipcring::mq::AsyncMessageQueue;
//! use ipcring::mq::MqOptions;
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-aiomq-{}", std::process::id());
//!     let opts = MqOptions::new().max_messages(4).message_size(64);
//!     let mut q = AsyncMessageQueue::create(&name, &opts)?;
//!     q.send_priority(b"later", 1).await?;
//!     q.send_priority(b"first", 9).await?;
//!     let mut buf = Vec::new();
//!     assert_eq!(q.recv_priority_into(&mut buf).await?, 9);
//!     assert_eq!(buf, b"first");
//!     Ok(())
//! })
//! # }
//! ```

use std::os::fd::{AsFd, OwnedFd};

use crate::error::TryOutcome;
use crate::mq::{MessageQueue, MqOptions};
use crate::transport::{AsyncReceiver, AsyncSender};
use crate::transport::{Receiver, Sender};
use crate::wake::watched::Watched;
use crate::{Error, Result, TryRecvError, TrySendError};

/// A POSIX message queue for tokio. Wraps a [`MessageQueue`]; sends and receives.
///
/// ```
/// use ipcring::mq::AsyncMessageQueue;
/// use ipcring::transport::AsyncReceiver;
/// use ipcring::mq::MqOptions;
/// use std::time::Duration;
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let name = format!("/ipcring-aiomq2-{}", std::process::id());
///     let mut q = AsyncMessageQueue::create(&name, &MqOptions::new())?;
///     assert!(q.recv_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncMessageQueue {
    /// A duplicate of the queue descriptor (same open file description, so the same
    /// readiness), owned by its registration.
    fd: Watched<OwnedFd>,
    q: MessageQueue,
}

/// Waits until `fd` is readable (`read`) or writable; with liveness on, at most
/// [`LIVENESS_SLICE`](crate::mq::LIVENESS_SLICE), then `None` so the caller looks again.
async fn ready(
    fd: &Watched<OwnedFd>,
    live: bool,
    read: bool,
) -> Result<Option<tokio::io::unix::AsyncFdReadyGuard<'_, OwnedFd>>> {
    let what = if read {
        "wait for a message in the queue"
    } else {
        "wait for room in the queue"
    };
    let wait = async {
        if read {
            fd.readable().await
        } else {
            fd.writable().await
        }
    };
    if !live {
        return wait.await.map(Some).map_err(|e| Error::io(what, e));
    }
    match tokio::time::timeout(crate::mq::LIVENESS_SLICE, wait).await {
        Ok(r) => r.map(Some).map_err(|e| Error::io(what, e)),
        Err(_) => Ok(None),
    }
}

impl AsyncMessageQueue {
    /// Creates a queue ([`MessageQueue::create`]). Must be called within a tokio runtime.
    pub fn create(name: &str, opts: &MqOptions) -> Result<AsyncMessageQueue> {
        Self::from_blocking(MessageQueue::create(name, opts)?)
    }

    /// Opens a queue ([`MessageQueue::open`]). Must be called within a tokio runtime.
    pub fn open(name: &str, opts: &MqOptions) -> Result<AsyncMessageQueue> {
        Self::from_blocking(MessageQueue::open(name, opts)?)
    }

    /// Opens the queue, or creates it ([`MessageQueue::open_or_create`]).
    pub fn open_or_create(name: &str, opts: &MqOptions) -> Result<AsyncMessageQueue> {
        Self::from_blocking(MessageQueue::open_or_create(name, opts)?)
    }

    /// Makes an open queue async. Must be called within a tokio runtime.
    pub fn from_blocking(q: MessageQueue) -> Result<AsyncMessageQueue> {
        // On Linux the queue descriptor is a file descriptor that `poll`/`epoll` report
        // readable while messages wait and writable while there is room.
        let fd = Watched::register_dup(q.mqd.as_fd(), "the queue descriptor")?;
        Ok(AsyncMessageQueue { fd, q })
    }

    /// The blocking queue underneath (name, attributes).
    pub fn get_ref(&self) -> &MessageQueue {
        &self.q
    }

    /// Sends with a priority (`0 .. 32768`), waiting for room.
    ///
    /// Cancel safe: the message goes into the queue in one non-blocking call, whole or not
    /// at all, so a dropped future sent it whole or not at all.
    pub async fn send_priority(&mut self, msg: &[u8], priority: u32) -> Result<()> {
        loop {
            if self.q.try_send_priority(msg, priority).done()? {
                return Ok(());
            }
            let Some(mut guard) = ready(&self.fd, self.q.liveness.is_some(), false).await? else {
                continue; // a liveness look: the next try_ reports a dead peer
            };
            if self.q.try_send_priority(msg, priority).done()? {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// Receives the oldest message of the highest priority into `buf`, waiting for one;
    /// returns its priority.
    ///
    /// Cancel safe: a message is taken in one non-blocking call just before the future
    /// returns, so a dropped future took none.
    pub async fn recv_priority_into(&mut self, buf: &mut Vec<u8>) -> Result<u32> {
        loop {
            if let Some(p) = self.q.try_recv_priority_into(buf).ready()? {
                return Ok(p);
            }
            let Some(mut guard) = ready(&self.fd, self.q.liveness.is_some(), true).await? else {
                continue; // a liveness look: the next try_ reports a dead peer
            };
            if let Some(p) = self.q.try_recv_priority_into(buf).ready()? {
                return Ok(p);
            }
            guard.clear_ready();
        }
    }
}

impl AsyncSender for AsyncMessageQueue {
    /// Sends with the queue's default priority ([`MqOptions::priority`]). Cancel safe.
    async fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.send_priority(msg, self.q.priority).await
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        Sender::try_send(&mut self.q, msg)
    }
    fn max_message(&self) -> usize {
        Sender::max_message(&self.q)
    }
}

impl AsyncReceiver for AsyncMessageQueue {
    /// See [`AsyncMessageQueue::recv_priority_into`]. Cancel safe.
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        self.recv_priority_into(buf).await.map(|_| ())
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        Receiver::try_recv_into(&mut self.q, buf)
    }
}
