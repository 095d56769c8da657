//! Broadcast subscribers for tokio: [`AsyncSubscriber`].
//!
//! A subscriber that finds nothing new waits the way an async ring consumer does (see
//! [`crate::ring::AsyncConsumer`]): it spins briefly, yielding to the scheduler, then announces
//! itself on the subscribers' futex eventcount and lets the process's waker thread sleep on it. The
//! publisher never waits, so it needs no async form: [`Publisher::publish`] is already non-blocking
//! and can be called from a task.
//!
//! [`Publisher::publish`]: crate::broadcast::Publisher::publish
//!
//! ```
//! use ipcring::broadcast::AsyncSubscriber;
//! use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start};
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-aiobc-{}", std::process::id());
//!     let opts = BroadcastOptions::new();
//!     let mut tx = Publisher::create(&name, &opts)?;
//!     let mut sub = AsyncSubscriber::open(&name, &opts.clone().start(Start::Next))?;
//!     tx.publish(b"tick")?;
//!     let mut buf = Vec::new();
//!     assert_eq!(sub.recv_into(&mut buf).await?, Recv::Message(0));
//!     assert_eq!(buf, b"tick");
//!     Ok(())
//! })
//! # }
//! ```

use crate::broadcast::{BroadcastOptions, Recv, Subscriber};
use crate::error::TryOutcome;
use crate::transport::AsyncReceiver;
use crate::wake::tokio::{waited_handle, Waiter};
use crate::{Result, TryRecvError};

/// A broadcast subscriber for tokio. Wraps a [`Subscriber`].
///
/// ```no_run
/// use ipcring::broadcast::AsyncSubscriber;
/// use ipcring::transport::AsyncReceiver;
/// use ipcring::broadcast::BroadcastOptions;
/// # async fn demo() -> ipcring::Result<()> {
/// let mut sub = AsyncSubscriber::open("/prices", &BroadcastOptions::new())?;
/// let latest = AsyncReceiver::recv(&mut sub).await?; // skips over lost messages
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncSubscriber detaches when dropped"]
pub struct AsyncSubscriber {
    inner: Subscriber,
    waiter: Waiter,
}

waited_handle!(AsyncSubscriber, Subscriber, data_wake_word);

impl AsyncSubscriber {
    /// Opens a broadcast ring as a subscriber ([`Subscriber::open`]; blocks up to the open
    /// timeout while the ring is not there yet).
    pub fn open(name: &str, opts: &BroadcastOptions) -> Result<AsyncSubscriber> {
        Subscriber::open(name, opts).map(Self::from)
    }

    /// The blocking subscriber underneath.
    pub fn get_ref(&self) -> &Subscriber {
        &self.inner
    }

    /// The next message (or the news that some were lost), waiting as needed; as
    /// [`Subscriber::recv_into`].
    ///
    /// Cancel safe: a message is taken in one synchronous step just before the future
    /// returns, so a dropped future took none.
    /// [`Error::Disconnected`](crate::Error::Disconnected) once the publisher is gone and
    /// everything still held was received.
    pub async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<Recv> {
        if let Some(r) = self.inner.try_recv_into(buf).ready()? {
            return Ok(r);
        }
        self.waiter
            .wait_for(
                &mut self.inner,
                |s| s.try_recv_into(buf).ready(),
                |s| s.publisher_gone(),
            )
            .await
    }

    /// One receive attempt, never waiting ([`Subscriber::try_recv_into`]).
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<Recv, TryRecvError> {
        self.inner.try_recv_into(buf)
    }
}

/// The transport view: lost messages are skipped (counted by the subscriber), as in the
/// blocking [`Receiver`](crate::Receiver) impl of [`Subscriber`].
impl AsyncReceiver for AsyncSubscriber {
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        while let Recv::Lagged(_) = AsyncSubscriber::recv_into(self, buf).await? {}
        Ok(())
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        while let Recv::Lagged(_) = self.inner.try_recv_into(buf)? {}
        Ok(())
    }
}
