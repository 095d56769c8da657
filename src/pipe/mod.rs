//! Named pipes (FIFOs): one writer, one reader, length-prefixed binary frames.
//!
//! The article's first method: a FIFO at a path on the file system that two independently
//! started programs open, one for writing ([`PipeSender`]), one for reading
//! ([`PipeReceiver`]). Both implement the crate's [`Sender`] / [`Receiver`] traits.
//!
//! Unlike the raw FIFO API, either side may start first: each side creates the FIFO if it is
//! missing (mode 0600 by default), the reader opens it without blocking, and the writer waits
//! for a reader to appear without spinning (inotify on Linux, a short sleep elsewhere), in the
//! first send or in [`PipeSender::wait_for_reader`].
//!
//! # Wire format
//!
//! Every message is one frame: an 8-byte header, then the payload.
//!
//! | offset | size | field |
//! |--------|------|-------|
//! | 0 | 2 | magic `b"SP"` |
//! | 2 | 1 | version, [`WIRE_VERSION`] (1) |
//! | 3 | 1 | flags, 0 (any other value is refused) |
//! | 4 | 4 | payload length, `u32` little-endian |
//!
//! A frame with a bad magic, version or flags, or a length above the receiver's
//! [`PipeOptions::max_message`], is an [`Error::Framing`]: the reader never allocates more
//! than `max_message + 8` bytes because a peer said so. After such an error the stream cannot
//! be resynchronised: the rest of that writer's bytes are discarded until it disconnects.
//!
//! # Peer death
//!
//! When the writer exits (or is killed), the reader receives every complete frame it wrote,
//! then [`Error::Disconnected`] (or [`Error::Framing`] if it died in the middle of a frame).
//! The next receive waits for a new writer. When the reader goes away, the writer's next send
//! fails with [`Error::Disconnected`], and the send after it waits for a new reader.
//!
//! # Example
//!
//! ```
//! use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
//! use ipcring::{Receiver, Sender};
//!
//! # fn main() -> ipcring::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("fifo");
//! let opts = PipeOptions::new();
//! let mut rx = PipeReceiver::open(&path, &opts)?; // in one program
//! let mut tx = PipeSender::open(&path, &opts)?;   // in another, started on its own
//! tx.send(b"Howdy")?;
//! assert_eq!(rx.recv()?, b"Howdy");
//! # Ok(())
//! # }
//! ```

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sys::fifo::{self, Io};
use crate::sys::notify::{Event, Watch};
use crate::transport::{done_by_deadline, Deadline, Receiver, Sender};
use crate::{Error, Result};

// The async (tokio) form, beside the blocking one.
#[cfg(feature = "async")]
mod tokio;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{AsyncPipeReceiver, AsyncPipeSender};

/// Size of a frame header in bytes.
pub const HEADER_LEN: usize = 8;
/// The two magic bytes that open every frame.
pub const MAGIC: [u8; 2] = *b"SP";
/// The frame format version this module writes and reads.
pub const WIRE_VERSION: u8 = 1;
/// Default largest message: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Longest single sleep while waiting for the peer: a cap on top of inotify, so a missed
/// event (or a platform without inotify) only costs latency.
const WAIT_SLICE: Duration = Duration::from_millis(100);
/// Read chunk: how much the receiver asks the kernel for at once.
const READ_CHUNK: usize = 64 * 1024;

/// Options for both ends of a pipe.
///
/// ```
/// use ipcring::pipe::PipeOptions;
/// let opts = PipeOptions::new().mode(0o660).max_message(1 << 20).keep(true);
/// assert_eq!(opts.get_max_message(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct PipeOptions {
    mode: u32,
    max_message: usize,
    keep: bool,
    pipe_size: Option<usize>,
    access: crate::Access,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions::new()
    }
}

impl PipeOptions {
    /// Mode 0600, a 16 MiB message limit, the FIFO removed by its creator on drop.
    ///
    /// ```
    /// let opts = ipcring::pipe::PipeOptions::new();
    /// assert_eq!(opts.get_max_message(), ipcring::pipe::DEFAULT_MAX_MESSAGE);
    /// ```
    pub fn new() -> PipeOptions {
        PipeOptions {
            mode: 0o600,
            max_message: DEFAULT_MAX_MESSAGE,
            keep: false,
            pipe_size: None,
            access: crate::Access::new(),
        }
    }

    /// File mode of the FIFO when this side creates it (default 0600), and the widest mode
    /// either side accepts when it opens one: a FIFO that grants more, or that another user
    /// owns (see [`PipeOptions::allow_owner`]), is refused with [`Error::PermissionDenied`].
    ///
    /// ```
    /// let opts = ipcring::pipe::PipeOptions::new().mode(0o666);
    /// # let _ = opts;
    /// ```
    pub fn mode(mut self, mode: u32) -> PipeOptions {
        self.mode = mode & 0o777;
        self
    }

    crate::access::access_option_methods!(access);

    crate::builder::setters! {
        /// Largest message accepted (sender) or believed (receiver), in bytes; at most
        /// `u32::MAX - 8`. A frame announcing more is an [`Error::Framing`] at the receiver.
        ///
        /// ```
        /// let opts = ipcring::pipe::PipeOptions::new().max_message(4096);
        /// assert_eq!(opts.get_max_message(), 4096);
        /// ```
        max_message(bytes: usize);

        /// Keep the FIFO on the file system when the side that created it is dropped
        /// (default: remove it).
        ///
        /// ```
        /// let opts = ipcring::pipe::PipeOptions::new().keep(true);
        /// # let _ = opts;
        /// ```
        keep(keep: bool);
    }

    /// The configured message limit.
    ///
    /// ```
    /// assert!(ipcring::pipe::PipeOptions::new().get_max_message() > 0);
    /// ```
    pub fn get_max_message(&self) -> usize {
        self.max_message
    }

    /// Ask the kernel for a pipe buffer of this many bytes (Linux `F_SETPIPE_SZ`; an
    /// unprivileged process may get at most `/proc/sys/fs/pipe-max-size`, 1 MiB by
    /// default). Applied by the sender when it connects. Default: the kernel's (64 KiB).
    ///
    /// ```
    /// let opts = ipcring::pipe::PipeOptions::new().pipe_size(1 << 20);
    /// # let _ = opts;
    /// ```
    pub fn pipe_size(mut self, bytes: usize) -> PipeOptions {
        self.pipe_size = Some(bytes);
        self
    }

    fn validate(&self) -> Result<()> {
        let (max, limit) = (self.max_message, u32::MAX as usize - HEADER_LEN);
        if max > limit {
            return Err(Error::InvalidConfig(
                format!("max_message {max} exceeds the frame format's limit of {limit}").into(),
            ));
        }
        Ok(())
    }
}

/// Creates the FIFO if it is missing. Returns the identity of the FIFO this call created.
fn ensure_fifo(path: &Path, mode: u32) -> Result<Option<(u64, u64)>> {
    if !fifo::mkfifo(path, mode)? {
        return Ok(None);
    }
    // Created by us; read its identity back so that drop removes only this FIFO.
    match fifo::fifo_identity(path) {
        Err(Error::NotFound(_)) => Ok(None),
        r => r,
    }
}

/// Removes the FIFO at `path` if it is still the one identified by `id`.
fn remove_if_ours(path: &Path, id: Option<(u64, u64)>) {
    if id.is_some() && fifo::fifo_identity(path).ok().flatten() == id {
        // Cleanup never panics; a failure here only leaves a FIFO behind.
        let _ = std::fs::remove_file(path);
    }
}

fn encode_header(len: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..2].copy_from_slice(&MAGIC);
    h[2] = WIRE_VERSION;
    h[3] = 0;
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

/// Checks a frame header and returns the payload length it announces.
fn decode_header(h: &[u8], max: usize) -> Result<usize> {
    let bad = |reason: String| Err(Error::Framing(reason.into()));
    if h[0..2] != MAGIC {
        return bad(format!(
            "bad frame magic {:02x}{:02x} (expected \"SP\")",
            h[0], h[1]
        ));
    }
    if h[2] != WIRE_VERSION {
        return bad(format!(
            "unsupported frame version {} (expected {WIRE_VERSION})",
            h[2]
        ));
    }
    if h[3] != 0 {
        return bad(format!("unknown frame flags {:#04x}", h[3]));
    }
    let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    if len > max {
        return bad(format!("frame of {len} bytes exceeds the limit of {max}"));
    }
    Ok(len)
}

/// The writing end of a named pipe.
///
/// Created with [`PipeSender::open`], which never blocks: it creates the FIFO if needed. The
/// first send (or [`wait_for_reader`](PipeSender::wait_for_reader)) waits for a reader.
///
/// A frame larger than the pipe's free space is written in pieces. If a `try_send` or
/// `send_timeout` runs out of room after part of a frame went out, the message counts as
/// sent: its rest is kept in the sender and written before the next message (or by
/// [`flush`](PipeSender::flush), or on drop), so the stream never carries half a frame
/// followed by another.
///
/// ```no_run
/// use ipcring::pipe::{PipeOptions, PipeSender};
/// use ipcring::Sender;
///
/// # fn main() -> ipcring::Result<()> {
/// let mut tx = PipeSender::open("fifo", &PipeOptions::new())?;
/// tx.send(b"terrible-looking_MACHINE-output")?; // waits for a reader
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PipeSender {
    path: PathBuf,
    opts: PipeOptions,
    created: Option<(u64, u64)>,
    fd: Option<OwnedFd>,
    guard_sigpipe: bool,
    /// Rest of a frame that must go out before anything else.
    pending: Vec<u8>,
    watch: Option<Watch>,
}

impl PipeSender {
    /// Opens (creating it if missing) the FIFO at `path` for writing. Does not wait for a
    /// reader. A path that exists and is not a FIFO is [`Error::AlreadyExists`].
    ///
    /// ```no_run
    /// let tx = ipcring::pipe::PipeSender::open("/tmp/my.fifo", &Default::default())?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: &PipeOptions) -> Result<PipeSender> {
        opts.validate()?;
        let path = path.as_ref().to_path_buf();
        let created = ensure_fifo(&path, opts.mode)?;
        Ok(PipeSender {
            path,
            opts: opts.clone(),
            created,
            fd: None,
            guard_sigpipe: !fifo::sigpipe_ignored(),
            pending: Vec::new(),
            watch: None,
        })
    }

    /// The FIFO's path.
    ///
    /// ```no_run
    /// let tx = ipcring::pipe::PipeSender::open("fifo", &Default::default())?;
    /// assert_eq!(tx.path(), std::path::Path::new("fifo"));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while connected to a reader (as far as this side knows: a reader that left is
    /// noticed at the next write).
    ///
    /// ```no_run
    /// let tx = ipcring::pipe::PipeSender::open("fifo", &Default::default())?;
    /// assert!(!tx.is_connected());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.fd.is_some()
    }

    /// Waits until a reader has the FIFO open, at most `timeout` (`None`: as long as needed).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let mut tx = ipcring::pipe::PipeSender::open("fifo", &Default::default())?;
    /// tx.wait_for_reader(Some(Duration::from_secs(5)))?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn wait_for_reader(&mut self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map_or(Deadline::forever(), Deadline::after);
        done_by_deadline(self.connect(deadline)?)
    }

    /// Writes out the rest of a partly written frame, waiting as long as needed.
    ///
    /// ```no_run
    /// let mut tx = ipcring::pipe::PipeSender::open("fifo", &Default::default())?;
    /// tx.flush()?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<()> {
        done_by_deadline(self.flush_pending(Deadline::forever())?)
    }

    /// Connects to a reader if not connected. `Ok(false)` if none came before `deadline`.
    fn connect(&mut self, deadline: Deadline) -> Result<bool> {
        if self.fd.is_some() {
            return Ok(true);
        }
        loop {
            if let Some(id) = ensure_fifo(&self.path, self.opts.mode)? {
                self.created = Some(id);
            }
            if self.watch.is_none() {
                self.watch = Some(Watch::new()?);
            }
            // Watch first, then try: a reader that opens in between is seen by one or the other.
            if let Some(w) = self.watch.as_mut() {
                match w.add(&self.path, Event::Open) {
                    Ok(()) | Err(Error::Io { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(fd) =
                fifo::open_nonblock(&self.path, true, &self.opts.access, self.opts.mode)?
            {
                if let Some(bytes) = self.opts.pipe_size {
                    fifo::set_pipe_size(&fd, bytes)?;
                }
                self.fd = Some(fd);
                // The watch is only needed while waiting; drop it to free the inotify fd.
                self.watch = None;
                return Ok(true);
            }
            let Some(slice) = deadline.slice(WAIT_SLICE) else {
                return Ok(false);
            };
            if let Some(w) = self.watch.as_mut() {
                w.wait(slice)?;
            }
        }
    }

    /// Writes `pending` out. `Ok(false)` if the deadline passed first (what is left stays).
    fn flush_pending(&mut self, deadline: Deadline) -> Result<bool> {
        while !self.pending.is_empty() {
            let Some(fd) = self.fd.as_ref() else {
                self.pending.clear();
                return Err(Error::Disconnected);
            };
            match fifo::write(fd, &self.pending, self.guard_sigpipe)? {
                Io::Done(n) => {
                    self.pending.drain(..n);
                }
                Io::Closed => {
                    self.pending.clear();
                    self.fd = None;
                    return Err(Error::Disconnected);
                }
                Io::WouldBlock => {
                    let t = match deadline.remaining() {
                        Some(d) if d.is_zero() => return Ok(false),
                        other => other,
                    };
                    fifo::poll(fd, libc::POLLOUT, t)?;
                }
            }
        }
        Ok(true)
    }

    /// The one send path. `Ok(false)`: nothing of `msg` was sent before `deadline`.
    fn send_until(&mut self, msg: &[u8], deadline: Deadline) -> Result<bool> {
        Error::check_len(msg.len(), self.opts.max_message)?;
        if !self.flush_pending(deadline)? {
            return Ok(false);
        }
        if !self.connect(deadline)? {
            return Ok(false);
        }
        let header = encode_header(msg.len());
        let total = HEADER_LEN + msg.len();
        let mut done = 0usize;
        while done < total {
            let Some(fd) = self.fd.as_ref() else {
                return Err(Error::Disconnected);
            };
            let r = if done < HEADER_LEN {
                fifo::write2(fd, &header[done..], msg, self.guard_sigpipe)?
            } else {
                fifo::write(fd, &msg[done - HEADER_LEN..], self.guard_sigpipe)?
            };
            match r {
                Io::Done(n) => done += n,
                Io::Closed => {
                    self.fd = None;
                    return Err(Error::Disconnected);
                }
                Io::WouldBlock => {
                    let remaining = deadline.remaining();
                    if matches!(remaining, Some(d) if d.is_zero()) {
                        if done == 0 {
                            return Ok(false);
                        }
                        // Part of the frame is out: keep the rest, the message counts as sent.
                        if done < HEADER_LEN {
                            self.pending.extend_from_slice(&header[done..]);
                            self.pending.extend_from_slice(msg);
                        } else {
                            self.pending.extend_from_slice(&msg[done - HEADER_LEN..]);
                        }
                        return Ok(true);
                    }
                    fifo::poll(fd, libc::POLLOUT, remaining)?;
                }
            }
        }
        Ok(true)
    }
}

impl Sender for PipeSender {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        done_by_deadline(self.send_until(msg, deadline)?)
    }

    fn max_message(&self) -> usize {
        self.opts.max_message
    }
}

impl Drop for PipeSender {
    fn drop(&mut self) {
        // Finish a partly written frame so the reader never sees half of one; this waits
        // until the reader takes it or goes away.
        if !self.pending.is_empty() {
            let _ = self.flush_pending(Deadline::forever());
        }
        self.fd = None;
        if !self.opts.keep {
            remove_if_ours(&self.path, self.created);
        }
    }
}

/// The reading end of a named pipe.
///
/// Created with [`PipeReceiver::open`], which never blocks: it creates the FIFO if needed and
/// opens it. Receives wait (in `poll`, no spinning) for a writer and its frames.
///
/// ```no_run
/// use ipcring::pipe::{PipeOptions, PipeReceiver};
/// use ipcring::Receiver;
///
/// # fn main() -> ipcring::Result<()> {
/// let mut rx = PipeReceiver::open("fifo", &PipeOptions::new())?;
/// let msg = rx.recv()?; // waits for a writer and its first message
/// println!("{}", String::from_utf8_lossy(&msg));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PipeReceiver {
    path: PathBuf,
    opts: PipeOptions,
    created: Option<(u64, u64)>,
    fd: OwnedFd,
    /// Bytes read but not yet delivered live in `rbuf[head..tail]`.
    rbuf: Vec<u8>,
    head: usize,
    tail: usize,
    /// The current writer closed its end: reopen before the next receive.
    eof: bool,
    /// A bad frame was seen: discard this writer's bytes until it disconnects.
    desync: bool,
}

impl PipeReceiver {
    /// Opens (creating it if missing) the FIFO at `path` for reading. Never blocks. A path
    /// that exists and is not a FIFO is [`Error::AlreadyExists`].
    ///
    /// ```no_run
    /// let rx = ipcring::pipe::PipeReceiver::open("/tmp/my.fifo", &Default::default())?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: &PipeOptions) -> Result<PipeReceiver> {
        opts.validate()?;
        let path = path.as_ref().to_path_buf();
        let (fd, created) = Self::open_fd(&path, opts)?;
        Ok(PipeReceiver {
            path,
            opts: opts.clone(),
            created,
            fd,
            rbuf: vec![0u8; READ_CHUNK],
            head: 0,
            tail: 0,
            eof: false,
            desync: false,
        })
    }

    fn open_fd(path: &Path, opts: &PipeOptions) -> Result<(OwnedFd, Option<(u64, u64)>)> {
        // The FIFO may be removed between mkfifo and open (its creator dropping): retry.
        for _ in 0..100 {
            let created = ensure_fifo(path, opts.mode)?;
            if let Some(fd) = fifo::open_nonblock(path, false, &opts.access, opts.mode)? {
                // Report ourselves as creator only if the fd is the FIFO we made.
                let created = created.filter(|id| fifo::fd_identity(&fd).ok() == Some(*id));
                return Ok((fd, created));
            }
        }
        Err(Error::NotFound(path.display().to_string()))
    }

    /// The FIFO's path.
    ///
    /// ```no_run
    /// let rx = ipcring::pipe::PipeReceiver::open("fifo", &Default::default())?;
    /// assert_eq!(rx.path(), std::path::Path::new("fifo"));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After the writer left: open the FIFO again (by path, so a FIFO re-created by a new
    /// writer is found). The new fd is opened before the old one closes, so a writer that
    /// connected meanwhile never sees the pipe without a reader.
    fn reopen(&mut self) -> Result<()> {
        let (fd, created) = Self::open_fd(&self.path, &self.opts)?;
        if created.is_some() {
            self.created = created;
        }
        self.fd = fd;
        self.eof = false;
        self.desync = false;
        Ok(())
    }

    /// Takes one complete frame out of the buffer, if there is one.
    fn take_frame(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let avail = self.tail - self.head;
        if avail < HEADER_LEN {
            return Ok(false);
        }
        let len = match decode_header(
            &self.rbuf[self.head..self.head + HEADER_LEN],
            self.opts.max_message,
        ) {
            Ok(len) => len,
            Err(e) => {
                self.head = 0;
                self.tail = 0;
                self.desync = true;
                return Err(e);
            }
        };
        let need = HEADER_LEN + len;
        if avail < need {
            // Make room for the whole frame (bounded: len <= max_message was checked).
            if self.rbuf.len() - self.head < need {
                self.rbuf.copy_within(self.head..self.tail, 0);
                self.tail -= self.head;
                self.head = 0;
                if self.rbuf.len() < need {
                    self.rbuf.resize(need, 0);
                }
            }
            return Ok(false);
        }
        out.extend_from_slice(&self.rbuf[self.head + HEADER_LEN..self.head + need]);
        self.head += need;
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
        Ok(true)
    }

    /// Reads what the pipe holds now. `Ok(false)` on end of file (no writer left).
    fn fill(&mut self) -> Result<bool> {
        if self.tail == self.rbuf.len() {
            self.rbuf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            if self.tail == self.rbuf.len() {
                // Cannot happen: take_frame grows the buffer to the frame's size first.
                return Err(Error::Framing("receive buffer full".into()));
            }
        }
        match fifo::read(&self.fd, &mut self.rbuf[self.tail..])? {
            Io::Done(0) => Ok(false),
            Io::Done(n) => {
                if self.desync {
                    // Discarding this writer's bytes until it leaves.
                    self.head = 0;
                    self.tail = 0;
                } else {
                    self.tail += n;
                }
                Ok(true)
            }
            Io::WouldBlock | Io::Closed => Ok(true),
        }
    }

    /// The one receive path. `Ok(false)`: nothing arrived before `deadline`.
    fn recv_until(&mut self, out: &mut Vec<u8>, deadline: Deadline) -> Result<bool> {
        out.clear();
        if self.eof {
            self.reopen()?;
        }
        loop {
            if !self.desync && self.take_frame(out)? {
                return Ok(true);
            }
            // Poll before reading: on a FIFO that no writer has opened yet, read() returns 0,
            // which must not be mistaken for a writer that left.
            let revents = fifo::poll(&self.fd, libc::POLLIN, deadline.remaining())?;
            // Data, or no writer (a read confirms it: 0 = end of file).
            if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                if !self.fill()? {
                    return self.on_eof();
                }
            } else if deadline.expired() {
                return Ok(false);
            }
        }
    }

    fn on_eof(&mut self) -> Result<bool> {
        self.eof = true;
        let partial = self.tail - self.head;
        self.head = 0;
        self.tail = 0;
        if partial > 0 && !self.desync {
            return Err(Error::Framing(
                format!(
                    "the writer left in the middle of a frame ({partial} bytes of it discarded)"
                )
                .into(),
            ));
        }
        Err(Error::Disconnected)
    }
}

impl Receiver for PipeReceiver {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        done_by_deadline(self.recv_until(buf, deadline)?)
    }
}

impl Drop for PipeReceiver {
    fn drop(&mut self) {
        if !self.opts.keep {
            remove_if_ours(&self.path, self.created);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory and the path of a FIFO in it (not made yet).
    fn fifo_path() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        (dir, path)
    }

    #[test]
    fn header_round_trip_and_refusals() {
        let h = encode_header(5);
        assert_eq!(&h, b"SP\x01\x00\x05\x00\x00\x00");
        assert_eq!(decode_header(&h, 10).unwrap(), 5);
        assert!(matches!(decode_header(&h, 4), Err(Error::Framing(_))));
        let mut bad = h;
        bad[0] = b'X';
        assert!(matches!(decode_header(&bad, 10), Err(Error::Framing(_))));
        let mut bad = h;
        bad[2] = 9;
        assert!(matches!(decode_header(&bad, 10), Err(Error::Framing(_))));
        let mut bad = h;
        bad[3] = 1;
        assert!(matches!(decode_header(&bad, 10), Err(Error::Framing(_))));
    }

    #[test]
    fn in_process_round_trip_either_order_and_timeouts() {
        let (_dir, path) = fifo_path();
        let opts = PipeOptions::new();
        let mut tx = PipeSender::open(&path, &opts).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No reader yet: nothing can be sent.
        let short = Duration::from_millis(20);
        assert!(tx.try_send(b"x").unwrap_err().is_full());
        assert!(tx.send_timeout(b"x", short).unwrap_err().is_timeout());
        let mut rx = PipeReceiver::open(&path, &opts).unwrap();
        let mut buf = Vec::new();
        assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
        let e = rx.recv_timeout_into(&mut buf, short).unwrap_err();
        assert!(e.is_timeout(), "{e}");
        tx.send(b"").unwrap();
        tx.send(b"two").unwrap();
        assert_eq!(rx.recv().unwrap(), b"");
        assert_eq!(rx.recv().unwrap(), b"two");
        drop(tx);
        assert!(rx.recv().unwrap_err().is_disconnected());
        // The sender created the FIFO and removed it; a new sender re-creates it and the
        // receiver finds it again.
        let mut tx = PipeSender::open(&path, &opts).unwrap();
        let t = std::thread::spawn(move || {
            tx.send(b"again").unwrap();
            tx
        });
        assert_eq!(rx.recv().unwrap(), b"again");
        let tx = t.join().unwrap();
        drop(rx);
        drop(tx);
        assert!(!path.exists());
    }

    #[test]
    fn a_partly_sent_frame_is_finished_before_the_next_one() {
        let (_dir, path) = fifo_path();
        let opts = PipeOptions::new();
        let mut rx = PipeReceiver::open(&path, &opts).unwrap();
        let mut tx = PipeSender::open(&path, &opts).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        // Larger than the pipe buffer: part goes out, the rest waits in the sender, and the
        // message counts as sent.
        tx.try_send(&big).unwrap();
        assert!(!tx.pending.is_empty());
        // The pipe is full: a new message cannot even start.
        assert!(tx.try_send(b"next").unwrap_err().is_full());
        let r = tx.send_timeout(b"next", Duration::from_millis(10));
        assert!(r.unwrap_err().is_timeout());
        let t = std::thread::spawn(move || {
            tx.send(b"next").unwrap();
            tx
        });
        assert_eq!(rx.recv().unwrap(), big);
        assert_eq!(rx.recv().unwrap(), b"next");
        let tx = t.join().unwrap();
        assert!(tx.pending.is_empty());
    }

    #[test]
    fn too_large_and_bad_options() {
        let (dir, path) = fifo_path();
        let mut tx = PipeSender::open(&path, &PipeOptions::new().max_message(3)).unwrap();
        assert!(matches!(
            tx.send(b"four"),
            Err(Error::MessageTooLarge { len: 4, max: 3 })
        ));
        let r = PipeSender::open(&path, &PipeOptions::new().max_message(u32::MAX as usize));
        assert!(matches!(r, Err(Error::InvalidConfig(_))), "{r:?}");
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let r = PipeReceiver::open(&file, &PipeOptions::new());
        assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");
    }
}
