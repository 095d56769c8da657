//! Named pipes for tokio: [`AsyncPipeSender`] and [`AsyncPipeReceiver`], on the same FIFO
//! and wire format as [`crate::pipe`] (either side may start first; an async side talks to
//! a blocking one).
//!
//! Waiting is readiness through [`tokio::io::unix::AsyncFd`]: for bytes (or the writer
//! leaving) on the read end, for room on the write end, and, while no reader has the FIFO
//! open, for an inotify "opened" event on its path (Linux; elsewhere the sender looks again
//! every 10 ms). No thread, no polling loop. The registered descriptor is a duplicate of
//! the blocking handle's, owned by the registration, and dropped before that handle moves
//! to a new descriptor (after the peer left), so the registration never outlives its file.
//!
//! ```no_run
//! use ipcring::pipe::{AsyncPipeReceiver, AsyncPipeSender};
//! use ipcring::pipe::PipeOptions;
//!
//! # async fn demo() -> ipcring::Result<()> {
//! let mut rx = AsyncPipeReceiver::open("/tmp/demo.fifo", &PipeOptions::new())?;
//! let mut tx = AsyncPipeSender::open("/tmp/demo.fifo", &PipeOptions::new())?;
//! tx.send(b"Howdy").await?;
//! let mut buf = Vec::new();
//! rx.recv_into(&mut buf).await?;
//! # Ok(()) }
//! ```

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use tokio::io::Interest;

use crate::wake::watched::Watched;

use crate::error::TryOutcome;
use crate::pipe::{PipeOptions, PipeReceiver, PipeSender};
use crate::transport::{inherent_async_receiver, inherent_async_sender, Deadline};
use crate::transport::{Receiver, Sender};
use crate::{Error, Result, TryRecvError, TrySendError};

/// A registration of a duplicate of a pipe descriptor, with the original's number (to
/// notice when the blocking handle moved to another descriptor).
#[derive(Debug)]
struct Registered {
    fd: Watched<OwnedFd>,
    original: RawFd,
}

fn register_dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<Registered> {
    let original = fd.as_raw_fd();
    let fd = Watched::register_dup(fd, "the pipe descriptor")?;
    Ok(Registered { fd, original })
}

/// Waits until the registration is ready for `interest`, then makes one non-blocking
/// attempt `op`: `Ok(true)`, done; `Ok(false)`, not yet (the readiness is cleared for the
/// next wait). An error drops the registration first (the handle moves to another
/// descriptor after one). `Ok(false)` at once without a registration.
async fn on_ready(
    ready: &mut Option<Registered>,
    interest: Interest,
    wait: &'static str,
    op: impl FnOnce() -> Result<bool>,
) -> Result<bool> {
    let Some(r) = ready.as_ref() else {
        return Ok(false);
    };
    let mut guard = r.fd.ready(interest).await.map_err(|e| Error::io(wait, e))?;
    match op() {
        Ok(false) => {
            guard.clear_ready();
            Ok(false)
        }
        Ok(true) => Ok(true),
        Err(e) => {
            drop(guard);
            *ready = None;
            Err(e)
        }
    }
}

/// The writing end of a named pipe, for tokio. Wraps a [`PipeSender`].
///
/// ```no_run
/// # use ipcring::pipe::AsyncPipeSender;
/// # async fn demo() -> ipcring::Result<()> {
/// let mut tx = AsyncPipeSender::open("fifo", &Default::default())?;
/// tx.send(b"hello").await?; // waits (no thread) for a reader, then for room
/// tx.flush().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncPipeSender {
    // Field order: registrations drop before the sender closes its descriptor.
    ready: Option<Registered>,
    /// While no reader is there: an inotify watch for the FIFO being opened, and the
    /// registration of (a duplicate of) its descriptor.
    #[cfg(target_os = "linux")]
    watch: Option<(Watched<OwnedFd>, crate::sys::notify::Watch)>,
    tx: PipeSender,
}

impl AsyncPipeSender {
    /// Opens the FIFO for writing ([`PipeSender::open`]; never blocks). Must be called
    /// within a tokio runtime.
    pub fn open(path: impl AsRef<Path>, opts: &PipeOptions) -> Result<AsyncPipeSender> {
        Ok(Self::from_blocking(PipeSender::open(path, opts)?))
    }

    /// Makes a blocking sender async.
    pub fn from_blocking(tx: PipeSender) -> AsyncPipeSender {
        AsyncPipeSender {
            ready: None,
            #[cfg(target_os = "linux")]
            watch: None,
            tx,
        }
    }

    /// The blocking sender underneath.
    pub fn get_ref(&self) -> &PipeSender {
        &self.tx
    }

    /// Drops the registration if the sender no longer uses its descriptor.
    fn sync_registration(&mut self) {
        let current = self.tx.async_fd().map(|f| f.as_raw_fd());
        if self.ready.as_ref().map(|r| r.original) != current {
            self.ready = None;
        }
    }

    /// Waits until a reader opens the FIFO (or something else happens to it).
    async fn wait_for_reader_event(&mut self, msg: &[u8]) -> Result<bool> {
        #[cfg(target_os = "linux")]
        {
            use crate::sys::notify::{Event, Watch};
            if self.watch.is_none() {
                let mut w = Watch::new()?;
                w.add(self.tx.path(), Event::Open)?;
                let fd = register_dup(w.as_fd())?.fd;
                self.watch = Some((fd, w));
            }
            // Re-check after arming: a reader that came in between is seen here.
            if self.tx.try_send(msg).done()? {
                self.watch = None;
                return Ok(true);
            }
            if let Some((fd, w)) = self.watch.as_mut() {
                let mut guard = fd
                    .readable()
                    .await
                    .map_err(|e| Error::io("wait for a reader", e))?;
                // Discard the queued events (the caller re-checks), then re-arm.
                w.wait(std::time::Duration::ZERO)?;
                guard.clear_ready();
            }
            Ok(false)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = msg;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            Ok(false)
        }
    }

    /// Sends `msg` as one frame: waits for a reader, then for room.
    ///
    /// Cancel safe: the frame goes out in synchronous non-blocking steps; the message is
    /// sent (committed) in the step that writes its first byte, and the future then returns
    /// at once, so a dropped future sent nothing. A committed frame that did not fit whole
    /// is finished by the next `send`, `try_send` or [`flush`](Self::flush).
    /// [`Error::Disconnected`] if the reader left (a later send waits for a new one).
    pub async fn send(&mut self, msg: &[u8]) -> Result<()> {
        loop {
            self.sync_registration();
            match self.tx.try_send(msg).done() {
                Ok(true) => {
                    #[cfg(target_os = "linux")]
                    {
                        self.watch = None;
                    }
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) => {
                    self.ready = None;
                    return Err(e);
                }
            }
            if self.tx.async_fd().is_none() {
                if self.wait_for_reader_event(msg).await? {
                    return Ok(());
                }
                continue;
            }
            if self.ready.is_none() {
                if let Some(fd) = self.tx.async_fd() {
                    self.ready = Some(register_dup(fd)?);
                }
            }
            let tx = &mut self.tx;
            let room = "wait for room in the pipe";
            if on_ready(&mut self.ready, Interest::WRITABLE, room, || {
                tx.try_send(msg).done()
            })
            .await?
            {
                return Ok(());
            }
        }
    }

    /// Writes out the rest of a partly written frame, waiting for room. Cancel safe.
    /// Call it before dropping the sender: the blocking [`PipeSender`]'s drop would
    /// otherwise finish the frame *blocking* the thread.
    pub async fn flush(&mut self) -> Result<()> {
        loop {
            self.sync_registration();
            if self.tx.try_flush()? {
                return Ok(());
            }
            if self.ready.is_none() {
                match self.tx.async_fd() {
                    Some(fd) => self.ready = Some(register_dup(fd)?),
                    None => return Err(Error::Disconnected),
                }
            }
            if let Some(r) = self.ready.as_ref() {
                let mut guard =
                    r.fd.writable()
                        .await
                        .map_err(|e| Error::io("wait for room in the pipe", e))?;
                if self.tx.try_flush()? {
                    return Ok(());
                }
                guard.clear_ready();
            }
        }
    }

    /// Sends `msg` if a reader is there and the pipe takes its first byte now;
    /// [`TrySendError::Full`] if not.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.sync_registration();
        Sender::try_send(&mut self.tx, msg)
    }
}

inherent_async_sender!(AsyncPipeSender, max_message: |s| Sender::max_message(&s.tx));

/// The reading end of a named pipe, for tokio. Wraps a [`PipeReceiver`].
///
/// ```no_run
/// # use ipcring::pipe::AsyncPipeReceiver;
/// # async fn demo() -> ipcring::Result<()> {
/// let mut rx = AsyncPipeReceiver::open("fifo", &Default::default())?;
/// let mut buf = Vec::new();
/// rx.recv_into(&mut buf).await?; // waits (no thread) for a writer and its frame
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncPipeReceiver {
    // Field order: the registration drops before the receiver closes its descriptor.
    ready: Option<Registered>,
    rx: PipeReceiver,
}

impl AsyncPipeReceiver {
    /// Opens the FIFO for reading ([`PipeReceiver::open`]; never blocks).
    pub fn open(path: impl AsRef<Path>, opts: &PipeOptions) -> Result<AsyncPipeReceiver> {
        Ok(Self::from_blocking(PipeReceiver::open(path, opts)?))
    }

    /// Makes a blocking receiver async.
    pub fn from_blocking(rx: PipeReceiver) -> AsyncPipeReceiver {
        AsyncPipeReceiver { ready: None, rx }
    }

    /// The blocking receiver underneath.
    pub fn get_ref(&self) -> &PipeReceiver {
        &self.rx
    }

    /// One non-blocking look; on an error (the writer left: the receiver will open the
    /// FIFO anew) the registration is dropped first.
    fn try_take(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        match Receiver::try_recv_into(&mut self.rx, buf) {
            Err(TryRecvError::Failed(e)) => {
                self.ready = None;
                Err(TryRecvError::Failed(e))
            }
            got => got,
        }
    }

    /// Receives the next message into `buf`, waiting on the pipe's readiness.
    ///
    /// Cancel safe: bytes move from the pipe into the receiver in synchronous steps and a
    /// message into `buf` only whole, so a dropped future took none.
    /// [`Error::Disconnected`] when the writer left after its last whole frame (the next
    /// receive waits for a new writer).
    pub async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        loop {
            // After a Disconnected the receiver opens the FIFO anew inside this call; the
            // registration of the old descriptor is already gone (dropped in try_take).
            if self.try_take(buf).done()? {
                return Ok(());
            }
            let current = self.rx.async_fd().as_raw_fd();
            if self.ready.as_ref().map(|r| r.original) != Some(current) {
                self.ready = None;
                self.ready = Some(register_dup(self.rx.async_fd())?);
            }
            let rx = &mut self.rx;
            let bytes = "wait for bytes in the pipe";
            let take = || Receiver::try_recv_into(rx, buf).done();
            if on_ready(&mut self.ready, Interest::READABLE, bytes, take).await? {
                return Ok(());
            }
        }
    }

    /// Receives the next message into `buf` if it has fully arrived (never waits);
    /// [`TryRecvError::Empty`] if not.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        self.try_take(buf)
    }
}

inherent_async_receiver!(AsyncPipeReceiver);

// What the async forms need of the blocking handles, beside them in this folder.
impl PipeSender {
    /// The write end, while connected to a reader.
    fn async_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Writes what it can of a partly written frame without waiting; true once none is left.
    fn try_flush(&mut self) -> Result<bool> {
        self.flush_pending(Deadline::after(Duration::ZERO))
    }
}

impl PipeReceiver {
    /// The read end (replaced by the next receive after the writer left).
    fn async_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}
