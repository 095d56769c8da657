//! Signals for tokio: [`AsyncListener`], the async form of [`Listener`].
//!
//! The listener's `signalfd` (and the fallback handler's self-pipe, which catches signals
//! delivered to threads that did not block them, such as tokio worker threads started before
//! the listener) are registered with [`tokio::io::unix::AsyncFd`]: a task waits on their
//! readiness, no thread, no polling loop. Events are taken with the blocking listener's own
//! non-blocking read, so order and decoding are the same (see [`crate::signal`]).
//!
//! Sending needs no async form: [`crate::signal::send`] and [`Registry::broadcast`] never
//! wait.
//!
//! As with [`Listener`], **create the listener early in `main`**, before the runtime starts
//! its worker threads, when the order between events matters: threads created afterwards
//! inherit the blocked mask and leave every event to the `signalfd`.
//!
//! [`Registry::broadcast`]: crate::signal::Registry::broadcast
//!
//! ```
//! use ipcring::signal::AsyncListener;
//! use ipcring::signal::{send, Signal, SignalOptions};
//!
//! # fn main() -> ipcring::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let opts = SignalOptions::new("svc").dir(dir.path());
//! let mut events = AsyncListener::new(&opts)?; // before the runtime: its threads inherit the mask
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     events.register()?; // with the runtime's reactor
//!     send(std::process::id(), Signal::Value(7), &opts)?;
//!     assert_eq!(events.recv().await?.signal, Signal::Value(7));
//!     Ok(())
//! })
//! # }
//! ```

use std::os::fd::{AsFd, OwnedFd};
use std::task::Poll;
use std::time::Duration;

use crate::signal::{Listener, SignalEvent, SignalOptions};
use crate::wake::watched::Watched;
use crate::{Error, Result, TryRecvError};

/// Duplicates of the listener's signalfd and of the process-wide self-pipe's read end
/// (each the same open file description as its original, so the same readiness), owned
/// by their registrations.
#[derive(Debug)]
struct Registered {
    sigfd: Watched<OwnedFd>,
    pipe: Option<Watched<OwnedFd>>,
}

/// Receives signal events in a tokio task. One listener (blocking or async) per process.
///
/// ```
/// use std::time::Duration;
/// use ipcring::signal::AsyncListener;
/// use ipcring::signal::SignalOptions;
/// # fn main() -> ipcring::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let mut l = AsyncListener::new(&SignalOptions::new("svc").dir(dir.path()))?;
///     assert!(l.try_recv().unwrap_err().is_empty());
///     let e = l.recv_timeout(Duration::from_millis(5)).await.unwrap_err();
///     assert!(e.is_timeout());
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncListener {
    // The registrations own duplicates, so they need not drop before the listener.
    reg: Option<Registered>,
    inner: Listener,
}

impl AsyncListener {
    /// Starts receiving, as [`Listener::new`] (it blocks the signals in the calling thread).
    /// May be called outside a runtime; the first wait (or [`AsyncListener::register`])
    /// registers with the reactor of the runtime it runs in.
    pub fn new(opts: &SignalOptions) -> Result<AsyncListener> {
        Ok(AsyncListener {
            reg: None,
            inner: Listener::new(opts)?,
        })
    }

    /// Registers the listener's descriptors with the current runtime's reactor (done by the
    /// first wait otherwise). Must be called within a tokio runtime with its I/O driver.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut l = ipcring::signal::AsyncListener::new(
    ///     &ipcring::signal::SignalOptions::new("svc").dir(dir.path()),
    /// )?;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async { l.register() })?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn register(&mut self) -> Result<()> {
        if self.reg.is_some() {
            return Ok(());
        }
        let sigfd = Watched::register_dup(self.inner.sigfd.as_fd(), "the signalfd")?;
        // The fallback handler's self-pipe (read end) is a static, never closed.
        let pipe = match super::PIPE.get().map(|(r, _)| r.as_fd()) {
            Some(fd) => Some(Watched::register_dup(fd, "the signal self-pipe")?),
            None => None,
        };
        self.reg = Some(Registered { sigfd, pipe });
        Ok(())
    }

    /// The next event if one is waiting, without waiting ([`TryRecvError::Empty`] if
    /// none is).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut l = ipcring::signal::AsyncListener::new(
    ///     &ipcring::signal::SignalOptions::new("svc").dir(dir.path()),
    /// )?;
    /// assert!(l.try_recv().unwrap_err().is_empty());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<SignalEvent, TryRecvError> {
        self.inner.take()?.ok_or(TryRecvError::Empty)
    }

    /// Waits for the next event.
    ///
    /// Cancel safe: an event is taken out of the kernel in one non-blocking read just before
    /// the future returns, so a dropped future (a `tokio::time::timeout` that elapsed, a
    /// `select!` branch that lost) took no event; the next `recv` gets it.
    ///
    /// ```no_run
    /// # async fn f(l: &mut ipcring::signal::AsyncListener) -> ipcring::Result<()> {
    /// let ev = l.recv().await?;
    /// println!("{:?} from pid {}", ev.signal, ev.sender_pid);
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Result<SignalEvent> {
        self.register()?;
        loop {
            if let Some(ev) = self.inner.take()? {
                return Ok(ev);
            }
            let Some(reg) = self.reg.as_ref() else {
                return Err(Error::corrupt("signal listener not registered"));
            };
            // Wait until either descriptor is readable; clear that readiness, then look
            // again (an event that arrives after the clear sets it anew).
            std::future::poll_fn(|cx| {
                for fd in std::iter::once(&reg.sigfd).chain(&reg.pipe) {
                    if let Poll::Ready(r) = fd.poll_read_ready(cx) {
                        return Poll::Ready(r.map(|mut g| g.clear_ready()));
                    }
                }
                Poll::Pending
            })
            .await
            .map_err(|e| Error::io("wait for a signal", e))?;
        }
    }

    /// Waits at most `timeout` (tokio's timer) for the next event; [`Error::Timeout`] if
    /// none came. Cancel safe, as [`AsyncListener::recv`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let mut l = ipcring::signal::AsyncListener::new(
    ///     &ipcring::signal::SignalOptions::new("svc").dir(dir.path()),
    /// )?;
    /// let r = rt.block_on(l.recv_timeout(std::time::Duration::from_millis(1)));
    /// assert!(r.unwrap_err().is_timeout());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<SignalEvent> {
        crate::transport::within(timeout, self.recv()).await
    }

    /// The blocking listener underneath.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let l = ipcring::signal::AsyncListener::new(
    ///     &ipcring::signal::SignalOptions::new("svc").dir(dir.path()),
    /// )?;
    /// let _blocking: &ipcring::signal::Listener = l.get_ref();
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn get_ref(&self) -> &Listener {
        &self.inner
    }
}
