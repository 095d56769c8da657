//! Running a blocking handle's operations on tokio's blocking pool, one at a time.
//!
//! A [`Pool`] owns the handle while no operation runs, and lends it to one
//! [`tokio::task::spawn_blocking`] task per operation. A future dropped while its task runs
//! leaves the task running: the handle comes back when it ends, and the next operation (or
//! [`Pool::settle`]) waits for that first. A receive left behind that way keeps what it took
//! in a stash, which the next receive returns, so a dropped receive loses no message.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::JoinHandle;

use crate::transport::Sender;
use crate::{Error, Result, TrySendError};

/// What a running task does, for what to keep if its future was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Its output is `Result<Option<Vec<u8>>>`: a message taken (kept in the stash if the
    /// future that asked for it was dropped), or `None` (nothing within the slice).
    Recv,
    /// Anything else: its output is dropped if its future was.
    Other,
}

/// A waker that does nothing, for one look at a running task.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

type Job<T> = JoinHandle<(T, Box<dyn Any + Send>)>;

/// A blocking handle `T` lent to the blocking pool one operation at a time.
pub(crate) struct Pool<T> {
    inner: Option<T>,
    running: Option<(Kind, Job<T>)>,
    stash: Option<Result<Vec<u8>>>,
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.inner.is_some())
            .field("running", &self.running.as_ref().map(|r| r.0))
            .field("stashed", &self.stash.is_some())
            .finish()
    }
}

fn lost() -> Error {
    Error::io(
        "run a blocking operation on the tokio blocking pool",
        std::io::Error::other("the operation panicked or was cancelled; the handle is gone"),
    )
}

impl<T: Send + 'static> Pool<T> {
    pub(crate) fn new(inner: T) -> Pool<T> {
        Pool {
            inner: Some(inner),
            running: None,
            stash: None,
        }
    }

    /// The handle, if no operation runs now.
    pub(crate) fn get_ref(&self) -> Option<&T> {
        self.inner.as_ref()
    }

    /// The handle, if no operation runs now.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.as_mut()
    }

    /// Takes the handle back, if no operation runs now.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.inner.take()
    }

    /// Takes a message a dropped receive left behind.
    pub(crate) fn take_stash(&mut self) -> Option<Result<Vec<u8>>> {
        self.stash.take()
    }

    /// Moves a message a dropped receive left behind into `buf` (`Ok(true)`), or the error
    /// that receive met; `Ok(false)`: nothing was left.
    pub(crate) fn take_stash_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(kept) = self.stash.take() else {
            return Ok(false);
        };
        *buf = kept?;
        Ok(true)
    }

    fn finish(
        &mut self,
        out: std::result::Result<(T, Box<dyn Any + Send>), tokio::task::JoinError>,
    ) -> Result<Box<dyn Any + Send>> {
        self.running = None;
        let (t, r) = out.map_err(|_| lost())?;
        self.inner = Some(t);
        Ok(r)
    }

    fn keep(&mut self, kind: Kind, r: Box<dyn Any + Send>) {
        if kind == Kind::Recv {
            if let Ok(got) = r.downcast::<Result<Option<Vec<u8>>>>() {
                self.stash = got.transpose().or(self.stash.take());
            }
        }
    }

    /// Waits for an operation whose future was dropped; the handle is then back. Cancel
    /// safe (the task stays owned here until it ends).
    pub(crate) async fn settle(&mut self) -> Result<()> {
        if let Some((kind, job)) = self.running.as_mut() {
            let kind = *kind;
            let out = job.await;
            let r = self.finish(out)?;
            self.keep(kind, r);
        }
        self.inner.as_ref().map(drop).ok_or_else(lost)
    }

    /// Like [`Pool::settle`] without waiting: `Ok(false)` while the operation still runs.
    pub(crate) fn settle_now(&mut self) -> Result<bool> {
        if let Some((kind, job)) = self.running.as_mut() {
            let kind = *kind;
            let waker = Waker::from(Arc::new(NoWake));
            let mut cx = Context::from_waker(&waker);
            match Pin::new(job).poll(&mut cx) {
                Poll::Pending => return Ok(false),
                Poll::Ready(out) => {
                    let r = self.finish(out)?;
                    self.keep(kind, r);
                }
            }
        }
        self.inner.as_ref().map(|_| true).ok_or_else(lost)
    }

    /// Runs `f` on the handle on the blocking pool, after any operation left running by a
    /// dropped future. Dropped before it completes, `f` still runs to its end in the
    /// background (see the module docs for what is kept).
    pub(crate) async fn run<R, F>(&mut self, kind: Kind, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut T) -> R + Send + 'static,
    {
        self.settle().await?;
        let mut t = self.inner.take().ok_or_else(lost)?;
        let job = tokio::task::spawn_blocking(move || {
            let r = f(&mut t);
            (t, Box::new(r) as Box<dyn Any + Send>)
        });
        let job = &mut self.running.insert((kind, job)).1;
        let out = job.await;
        let r = self.finish(out)?;
        r.downcast::<R>().map(|b| *b).map_err(|_| lost())
    }
}

/// The send forms of a pooled blocking [`Sender`], the same for every async form built on
/// a pool (the file log's writer, the Redis senders).
impl<T: Sender + Send + 'static> Pool<T> {
    /// Checks `msg` against `max` (the caller's copy of the limit: the handle may be on the
    /// pool), then runs [`Sender::send`] on the pool with a copy of it. **A dropped future
    /// may still send the message**: the task runs to its end in the background.
    pub(crate) async fn send(&mut self, msg: &[u8], max: usize) -> Result<()> {
        Error::check_len(msg.len(), max)?;
        let msg = msg.to_vec();
        self.run(Kind::Other, move |t| Sender::send(t, &msg))
            .await?
    }

    /// One [`Sender::try_send`] on the calling thread; `Full` also while an operation
    /// runs on the pool.
    pub(crate) fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        if !self.settle_now()? {
            return Err(TrySendError::Full);
        }
        self.get_mut()
            .map_or(Err(TrySendError::Full), |t| Sender::try_send(t, msg))
    }
}
