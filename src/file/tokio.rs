//! The shared file log for tokio: [`AsyncLogReader`] and [`AsyncLogWriter`], the async forms
//! of [`LogReader`] and [`LogWriter`] (same file, same format: async and blocking readers
//! and writers mix freely).
//!
//! - **Reading** waits on the reader's inotify descriptor through
//!   [`tokio::io::unix::AsyncFd`]: no thread, no polling loop. As the blocking reader, it
//!   also looks again every 100 ms while it waits (a tokio timer), which covers what inotify
//!   cannot see. Each message is taken with one non-blocking look of the blocking reader.
//! - **Writing** appends under the log's `flock(2)`, which has no async form: each
//!   [`AsyncLogWriter::send`] runs the append on tokio's blocking pool
//!   ([`tokio::task::spawn_blocking`]), one at a time per writer. So the runtime needs its
//!   blocking pool (every runtime built by `tokio::runtime::Builder` has one).
//!
//! ```
//! use ipcring::file::{AsyncLogReader, AsyncLogWriter};
//! use ipcring::transport::{AsyncReceiver, AsyncSender};
//! use ipcring::file::LogOptions;
//!
//! # fn main() -> ipcring::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("orders.log");
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let mut r = AsyncLogReader::open(&path, &LogOptions::new())?;
//!     let mut w = AsyncLogWriter::open(&path, &LogOptions::new())?;
//!     w.send(b"first").await?;
//!     assert_eq!(r.recv().await?, b"first");
//!     w.close().await?;
//!     assert!(r.recv().await.unwrap_err().is_disconnected()); // all read, no writer left
//!     Ok(())
//! })
//! # }
//! ```

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use crate::error::TryOutcome;
use crate::file::{LogOptions, LogReader, LogWriter};
use crate::transport::pool::Pool;
use crate::transport::{AsyncReceiver, AsyncSender};
use crate::transport::{Receiver, Sender};
use crate::wake::watched::Watched;
use crate::{Error, Result, TryRecvError, TrySendError};

/// How often a waiting reader looks again without an inotify event (as the blocking one).
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Reads a shared log in a tokio task. Implements [`AsyncReceiver`].
///
/// ```
/// use ipcring::file::AsyncLogReader;
/// use ipcring::transport::AsyncReceiver;
/// use std::time::Duration;
/// # fn main() -> ipcring::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let mut r = AsyncLogReader::open(dir.path().join("x.log"), &Default::default())?;
///     // No writer ever attached: waiting, not disconnected.
///     assert!(r.recv_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncLogReader {
    /// A duplicate of the reader's inotify descriptor (same open file description, so
    /// the same readiness), owned by its registration.
    fd: Option<Watched<OwnedFd>>,
    inner: LogReader,
}

impl AsyncLogReader {
    /// Opens the log for reading ([`LogReader::open`]). Must be called within a tokio
    /// runtime with its I/O driver.
    pub fn open(path: impl AsRef<Path>, opts: &LogOptions) -> Result<AsyncLogReader> {
        Self::from_blocking(LogReader::open(path, opts)?)
    }

    /// Makes an open reader async. Must be called within a tokio runtime.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use ipcring::file::LogReader;
    /// let r = LogReader::open(dir.path().join("x.log"), &Default::default())?;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let r = rt.block_on(async { ipcring::file::AsyncLogReader::from_blocking(r) })?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn from_blocking(inner: LogReader) -> Result<AsyncLogReader> {
        let fd = match inner.watch.as_ref().map(|w| w.as_fd()) {
            Some(watch) => Some(Watched::register_dup(watch, "the inotify descriptor")?),
            None => None,
        };
        Ok(AsyncLogReader { fd, inner })
    }

    /// The blocking reader underneath (its offset).
    pub fn get_ref(&self) -> &LogReader {
        &self.inner
    }
}

impl AsyncReceiver for AsyncLogReader {
    /// Receives the next message, waiting for one; [`Error::Disconnected`] once everything
    /// was read and no writer is attached.
    ///
    /// Cancel safe: a message is taken (and the cursor file, if any, moved past it) in one
    /// synchronous step just before the future returns, so a dropped future took none.
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        loop {
            // Drain the queued inotify events first: a change after this is either seen by
            // the look below or queued anew.
            if let Some(w) = self.inner.watch.as_mut() {
                w.drain()?;
            }
            if Receiver::try_recv_into(&mut self.inner, buf).done()? {
                return Ok(());
            }
            match self.fd.as_ref() {
                Some(fd) => {
                    if let Ok(ready) = tokio::time::timeout(WAIT_SLICE, fd.readable()).await {
                        let mut guard =
                            ready.map_err(|e| Error::io("wait for the log to change", e))?;
                        guard.clear_ready();
                    }
                }
                None => tokio::time::sleep(WAIT_SLICE).await,
            }
        }
    }

    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        Receiver::try_recv_into(&mut self.inner, buf)
    }
}

/// Appends to a shared log from a tokio task: each append runs on tokio's blocking pool
/// (the log's `flock` has no async form). Implements [`AsyncSender`].
///
/// ```
/// use ipcring::file::AsyncLogWriter;
/// use ipcring::transport::AsyncSender;
/// # fn main() -> ipcring::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let mut w = AsyncLogWriter::open(dir.path().join("x.log"), &Default::default())?;
///     w.send(b"started").await?;
///     w.close().await
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncLogWriter {
    pool: Pool<LogWriter>,
    max_message: usize,
}

impl AsyncLogWriter {
    /// Opens the log for appending ([`LogWriter::open`]; it creates the file if missing).
    /// Opening does a little blocking file I/O on the calling thread.
    pub fn open(path: impl AsRef<Path>, opts: &LogOptions) -> Result<AsyncLogWriter> {
        Ok(Self::from_blocking(LogWriter::open(path, opts)?))
    }

    /// Makes an open writer async.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use ipcring::file::LogWriter;
    /// let w = LogWriter::open(dir.path().join("x.log"), &Default::default())?;
    /// let w = ipcring::file::AsyncLogWriter::from_blocking(w);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn from_blocking(inner: LogWriter) -> AsyncLogWriter {
        let max_message = Sender::max_message(&inner);
        AsyncLogWriter {
            pool: Pool::new(inner),
            max_message,
        }
    }

    /// Waits for an append left running by a dropped `send` future, then closes the writer
    /// (its liveness lock goes, so readers that read everything see
    /// [`Error::Disconnected`]). Dropping the writer instead also works, but an append still
    /// running then finishes (and closes) in the background.
    pub async fn close(mut self) -> Result<()> {
        self.pool.settle().await?;
        drop(self.pool.take());
        Ok(())
    }
}

impl AsyncSender for AsyncLogWriter {
    /// Appends `msg`: copies it, then runs the blocking append (lock, write, commit, unlock)
    /// on tokio's blocking pool, after any append a dropped `send` left running.
    ///
    /// Cancellation: **a dropped future may still append the message**: once the append
    /// started on the pool it runs to its end in the background (a message is never torn:
    /// it is committed whole or not at all). The next `send` waits for it first, so order is
    /// kept. Its outcome is not reported; to know whether a message went in, let `send`
    /// complete.
    async fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.pool.send(msg, self.max_message).await
    }

    /// Appends on the calling thread if the lock is free now and no append is running
    /// ([`TrySendError::Full`] otherwise). It does blocking file I/O (a short write) on
    /// this thread.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.pool.try_send(msg)
    }

    fn max_message(&self) -> usize {
        self.max_message
    }
}
