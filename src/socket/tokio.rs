//! Socket connections for tokio: [`AsyncConnection`] and [`AsyncListener`], on the same
//! wire as [`crate::socket`] (length-prefixed frames, byte-compatible with Python's
//! `multiprocessing.connection`; HMAC authentication).
//!
//! Reads and writes wait on readiness through [`tokio::io::unix::AsyncFd`] (epoll): no
//! thread and no polling loop per connection. Connecting and the authentication handshake
//! (a few small messages, bounded by the handshake timeout) run once per connection on
//! tokio's blocking pool, reusing the blocking implementation, so both sides' handshake
//! code stays one.
//!
//! ```no_run
//! use ipcring::socket::{AsyncConnection, AsyncListener};
//! use ipcring::transport::{AsyncReceiver, AsyncSender};
//! use ipcring::socket::SocketOptions;
//!
//! # async fn demo() -> ipcring::Result<()> {
//! let opts = SocketOptions::new().authkey(b"secret");
//! let listener = AsyncListener::bind("@alice-async", &opts)?;
//! tokio::spawn(async move {
//!     let mut conn = listener.accept().await?;
//!     let msg = conn.recv().await?;
//!     conn.send(&msg).await
//! });
//! let mut conn = AsyncConnection::connect("@alice-async", &opts).await?;
//! conn.send(b"echo me").await?;
//! assert_eq!(conn.recv().await?, b"echo me");
//! # Ok(()) }
//! ```

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::wake::watched::{StableFd, Watched};

use super::codec::{self, encode_header, Inbox, MAX_HEADER};
use crate::socket::{Connection, Listener, SocketOptions, Stream, ToAddress};
use crate::sys::socket::{recv_some, send_dontwait};
use crate::transport::Deadline;
use crate::transport::{inherent_async_receiver, inherent_async_sender};
use crate::{Error, Result, TryRecvError, TrySendError};

type Io = Arc<Watched<Arc<Stream>>>;

// SAFETY: a `Stream` is a std `UnixStream` or `TcpStream`, which owns its socket and closes
// it only when dropped; `as_raw_fd` returns that one descriptor, and an `Arc` gives out only
// `&Stream`, through which nothing closes or replaces it.
unsafe impl StableFd for Arc<Stream> {}

fn register(stream: Arc<Stream>) -> Result<Io> {
    Watched::register(stream)
        .map(Arc::new)
        .map_err(|e| Error::io("register the socket with the tokio reactor", e.into()))
}

fn would_block() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::WouldBlock)
}

/// The sending half of an [`AsyncConnection`].
///
/// ```no_run
/// # use ipcring::socket::AsyncConnection;
/// # use ipcring::socket::SocketOptions;
/// # async fn demo() -> ipcring::Result<()> {
/// let (mut tx, _rx) = AsyncConnection::connect("@alice", &SocketOptions::new()).await?.into_split();
/// tx.send(b"hi").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncSocketSender {
    io: Io,
    max_frame: usize,
    /// A frame whose first bytes went out: `pending[pos..]` is still to be written.
    pending: Vec<u8>,
    pos: usize,
    /// Messages committed (first byte written).
    sent: u64,
    gone: bool,
}

impl AsyncSocketSender {
    fn write_error(&mut self, e: std::io::Error) -> Error {
        if codec::peer_gone(&e) {
            self.gone = true;
            return Error::Disconnected;
        }
        Error::io("send", e)
    }

    /// Writes what is left of a frame that an earlier (cancelled) send started. Cancel
    /// safe: progress is kept in the sender.
    ///
    /// ```no_run
    /// # use ipcring::socket::AsyncConnection;
    /// # use ipcring::socket::SocketOptions;
    /// # async fn demo() -> ipcring::Result<()> {
    /// # let (mut tx, _rx) = AsyncConnection::connect("@alice", &SocketOptions::new()).await?.into_split();
    /// tx.flush().await?; // every started frame is on the wire
    /// # Ok(()) }
    /// ```
    pub async fn flush(&mut self) -> Result<()> {
        while self.pos < self.pending.len() {
            if self.gone {
                return Err(Error::Disconnected);
            }
            let mut guard = self
                .io
                .writable()
                .await
                .map_err(|e| Error::io("wait for room on the socket", e))?;
            let (pending, pos) = (&self.pending, self.pos);
            match guard.try_io(|fd| {
                send_dontwait(fd.get_ref().as_raw_fd(), &pending[pos..])?.ok_or_else(would_block)
            }) {
                Ok(Ok(n)) => self.pos += n,
                Ok(Err(e)) => return Err(self.write_error(e)),
                Err(_would_block) => {}
            }
        }
        self.pending.clear();
        self.pos = 0;
        Ok(())
    }

    /// How many messages this sender has committed: a message counts from the moment its
    /// first byte is written (from then on it is always completed). After a cancelled
    /// [`send`](Self::send), the count grew by one if and only if that message was sent.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use ipcring::socket::AsyncConnection;
    /// # use ipcring::socket::SocketOptions;
    /// # async fn demo() -> ipcring::Result<()> {
    /// # let (mut tx, _rx) = AsyncConnection::connect("@alice", &SocketOptions::new()).await?.into_split();
    /// let msg = vec![0u8; 1 << 20];
    /// let before = tx.sent_count();
    /// if tokio::time::timeout(Duration::from_millis(1), tx.send(&msg)).await.is_err()
    ///     && tx.sent_count() == before
    /// {
    ///     // Not sent: it is safe to send it again later.
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sent_count(&self) -> u64 {
        self.sent
    }

    /// True while a committed frame is not all on the wire yet (the next operation, or
    /// [`flush`](Self::flush), finishes it).
    pub fn has_unfinished_frame(&self) -> bool {
        self.pos < self.pending.len()
    }

    /// Writes what it can of the unfinished frame without waiting; true if none is left.
    fn flush_now(&mut self) -> Result<bool> {
        while self.pos < self.pending.len() {
            match send_dontwait(self.io.get_ref().as_raw_fd(), &self.pending[self.pos..]) {
                Ok(Some(n)) => self.pos += n,
                Ok(None) => return Ok(false),
                Err(e) => return Err(self.write_error(e)),
            }
        }
        self.pending.clear();
        self.pos = 0;
        Ok(true)
    }

    /// The first `n` bytes of `frame` went out: the message is committed (counted), and
    /// what is left of it waits to be written by the next operation.
    fn committed(&mut self, frame: Vec<u8>, n: usize) {
        self.sent += 1;
        if n < frame.len() {
            self.pending = frame;
            self.pos = n;
        }
    }

    fn frame(&self, msg: &[u8]) -> Result<Vec<u8>> {
        if self.gone {
            return Err(Error::Disconnected);
        }
        Error::check_len(msg.len(), self.max_frame)?;
        let mut header = [0u8; MAX_HEADER];
        let hlen = encode_header(msg.len(), &mut header);
        let mut frame = Vec::with_capacity(hlen + msg.len());
        frame.extend_from_slice(&header[..hlen]);
        frame.extend_from_slice(msg);
        Ok(frame)
    }

    /// Sends `msg` as one frame, waiting for room on the socket (never a thread).
    ///
    /// Cancel safe, in this sense: until the first byte of the frame is written the
    /// frame exists only inside this future, so dropping it sends nothing; from the first
    /// byte on, the frame is committed: its rest is kept in the sender and written by the
    /// next `send`, `try_send` or [`flush`](Self::flush) (a half frame is never left
    /// between two frames). Only dropping the whole sender with a frame unfinished cuts it
    /// (the peer then sees [`Error::Framing`]); `flush().await` before dropping avoids that.
    /// [`Error::Disconnected`] when the peer has closed.
    pub async fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.flush().await?;
        let frame = self.frame(msg)?;
        loop {
            let mut guard = self
                .io
                .writable()
                .await
                .map_err(|e| Error::io("wait for room on the socket", e))?;
            match guard.try_io(|fd| {
                send_dontwait(fd.get_ref().as_raw_fd(), &frame)?.ok_or_else(would_block)
            }) {
                Ok(Ok(n)) => {
                    self.committed(frame, n);
                    break;
                }
                Ok(Err(e)) => return Err(self.write_error(e)),
                Err(_would_block) => {}
            }
        }
        self.flush().await
    }

    /// Sends `msg` if the socket takes its first byte now; [`TrySendError::Full`]: nothing
    /// of it was sent (also when an earlier frame is still unfinished). A frame started
    /// here is finished by the next operation, as in [`send`](Self::send).
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        if !self.flush_now()? {
            return Err(TrySendError::Full);
        }
        let frame = self.frame(msg)?;
        match send_dontwait(self.io.get_ref().as_raw_fd(), &frame) {
            Ok(Some(n)) => {
                self.committed(frame, n);
                self.flush_now()?;
                Ok(())
            }
            Ok(None) => Err(TrySendError::Full),
            Err(e) => Err(self.write_error(e).into()),
        }
    }

    /// The largest message accepted (the connection's `max_frame`).
    pub fn max_message(&self) -> usize {
        self.max_frame
    }
}

impl Drop for AsyncSocketSender {
    fn drop(&mut self) {
        // Best effort, without waiting: finish a started frame if the socket takes it.
        let _ = self.flush_now();
    }
}

inherent_async_sender!(AsyncSocketSender, max_message: |s| s.max_frame);

/// The receiving half of an [`AsyncConnection`].
///
/// ```no_run
/// # use ipcring::socket::AsyncConnection;
/// # use ipcring::socket::SocketOptions;
/// # async fn demo() -> ipcring::Result<()> {
/// let (_tx, mut rx) = AsyncConnection::connect("@alice", &SocketOptions::new()).await?.into_split();
/// let mut buf = Vec::new();
/// rx.recv_into(&mut buf).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncSocketReceiver {
    io: Io,
    max_frame: usize,
    /// Bytes received and not delivered yet, and the frame in progress (the blocking
    /// receiver's, when made from one).
    inbox: Inbox,
    closed: bool,
}

impl AsyncSocketReceiver {
    /// Takes a whole frame out of the inbox if it is all there (no I/O).
    fn parse(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        self.inbox.take(out, self.max_frame).inspect_err(|_| {
            self.closed = true;
        })
    }

    fn eof(&mut self) -> Error {
        self.closed = true;
        self.inbox.eof()
    }

    /// One read result: `Ok(true)` bytes arrived, `Ok(false)` none now.
    fn absorb(&mut self, r: std::io::Result<Option<usize>>) -> Result<bool> {
        match r {
            Ok(Some(0)) => Err(self.eof()),
            Ok(Some(_)) => Ok(true),
            Ok(None) => Ok(false),
            Err(e) if codec::is_reset(&e) => Err(self.eof()),
            Err(e) => Err(Error::io("recv", e)),
        }
    }

    /// Receives the next message into `buf`, waiting on the socket's readiness.
    ///
    /// Cancel safe: bytes are moved from the socket into this receiver in synchronous
    /// steps, and a message into `buf` only when it is whole, so a dropped future loses
    /// nothing (a partial frame stays buffered; the next `recv` continues it).
    /// [`Error::Disconnected`] once the peer closed between frames; [`Error::Framing`] if
    /// it closed inside one; [`Error::MessageTooLarge`] for a frame over `max_frame`.
    pub async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        loop {
            if self.parse(buf)? {
                return Ok(());
            }
            let io = self.io.clone();
            let mut guard = io
                .readable()
                .await
                .map_err(|e| Error::io("wait for bytes on the socket", e))?;
            let r = guard.try_io(|fd| {
                let fd = fd.get_ref().as_raw_fd();
                self.inbox
                    .fill(|buf| recv_some(fd, buf, true))?
                    .ok_or_else(would_block)
            });
            if let Ok(r) = r {
                self.absorb(r.map(Some))?;
            }
        }
    }

    /// Receives the next message into `buf` if it has fully arrived (never waits);
    /// [`TryRecvError::Empty`] if not.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        loop {
            if self.parse(buf)? {
                return Ok(());
            }
            let fd = self.io.get_ref().as_raw_fd();
            let r = self.inbox.fill(|buf| recv_some(fd, buf, true));
            if !self.absorb(r)? {
                buf.clear();
                return Err(TryRecvError::Empty);
            }
        }
    }
}

inherent_async_receiver!(AsyncSocketReceiver);

/// A connected, authenticated socket for tokio: sends and receives whole messages.
///
/// ```no_run
/// use ipcring::socket::AsyncConnection;
/// use ipcring::socket::SocketOptions;
/// # async fn demo() -> ipcring::Result<()> {
/// let mut conn = AsyncConnection::connect("127.0.0.1:6000", &SocketOptions::new()).await?;
/// conn.send(b"hello").await?;
/// let answer = conn.recv().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncConnection {
    tx: AsyncSocketSender,
    rx: AsyncSocketReceiver,
}

impl AsyncConnection {
    /// Connects and authenticates as [`Connection::connect`] does (retrying while nobody
    /// listens, up to the connect timeout), on tokio's blocking pool; then every send and
    /// receive is readiness-driven.
    pub async fn connect(addr: impl ToAddress, opts: &SocketOptions) -> Result<AsyncConnection> {
        let addr = addr.to_address()?;
        let o = opts.clone();
        let conn = tokio::task::spawn_blocking(move || Connection::connect(addr, &o))
            .await
            .map_err(|e| Error::io("connect task", std::io::Error::other(e)))??;
        AsyncConnection::from_blocking(conn, opts)
    }

    /// Makes an established blocking connection async (bytes it had already received are
    /// kept). `opts` gives the `max_frame` to enforce. Must be called within a tokio
    /// runtime.
    pub fn from_blocking(conn: Connection, opts: &SocketOptions) -> Result<AsyncConnection> {
        let (tx, rx) = conn.into_split();
        tx.usable()?;
        // The receiver's stream is the same socket; its inbox (bytes received, a frame in
        // progress) carries on here.
        let (stream, inbox, closed) = (tx.stream, rx.inbox, rx.closed);
        let io = register(stream)?;
        let max_frame = opts.max_frame;
        Ok(AsyncConnection {
            tx: AsyncSocketSender {
                io: io.clone(),
                max_frame,
                pending: Vec::new(),
                pos: 0,
                sent: 0,
                gone: false,
            },
            rx: AsyncSocketReceiver {
                io,
                max_frame,
                inbox,
                closed,
            },
        })
    }

    /// Splits into halves, so one task sends while another receives.
    pub fn into_split(self) -> (AsyncSocketSender, AsyncSocketReceiver) {
        (self.tx, self.rx)
    }

    /// See [`AsyncSocketSender::send`] (cancel safety included).
    pub async fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.tx.send(msg).await
    }

    /// See [`AsyncSocketSender::try_send`].
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.tx.try_send(msg)
    }

    /// See [`AsyncSocketSender::has_unfinished_frame`].
    pub fn has_unfinished_frame(&self) -> bool {
        self.tx.has_unfinished_frame()
    }

    /// See [`AsyncSocketSender::sent_count`].
    pub fn sent_count(&self) -> u64 {
        self.tx.sent_count()
    }

    /// See [`AsyncSocketSender::flush`].
    pub async fn flush(&mut self) -> Result<()> {
        self.tx.flush().await
    }

    /// See [`AsyncSocketReceiver::recv_into`] (cancel safe).
    pub async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        self.rx.recv_into(buf).await
    }

    /// Receives the next message into a new `Vec` (cancel safe).
    pub async fn recv(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.rx.recv_into(&mut buf).await?;
        Ok(buf)
    }

    /// See [`AsyncSocketReceiver::try_recv_into`].
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        self.rx.try_recv_into(buf)
    }
}

inherent_async_sender!(AsyncConnection, max_message: |c| c.tx.max_frame);
inherent_async_receiver!(AsyncConnection);

/// A listener for tokio: waits for clients on readiness, authenticates each on the
/// blocking pool (bounded by the handshake timeout), and yields [`AsyncConnection`]s.
///
/// ```no_run
/// use ipcring::socket::AsyncListener;
/// use ipcring::socket::SocketOptions;
/// # async fn demo() -> ipcring::Result<()> {
/// let l = AsyncListener::bind("127.0.0.1:0", &SocketOptions::new())?;
/// println!("listening on {}", l.local_addr());
/// let conn = l.accept().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncListener {
    /// A duplicate of the listening socket (same open file description, so the same
    /// readiness), owned by its registration.
    fd: Watched<OwnedFd>,
    listener: Listener,
}

impl AsyncListener {
    /// Binds and listens ([`Listener::bind`]). Must be called within a tokio runtime.
    pub fn bind(addr: impl ToAddress, opts: &SocketOptions) -> Result<AsyncListener> {
        AsyncListener::from_blocking(Listener::bind(addr, opts)?)
    }

    /// Makes a bound blocking listener async. Must be called within a tokio runtime.
    pub fn from_blocking(listener: Listener) -> Result<AsyncListener> {
        let fd = Watched::register_dup(listener.fd(), "the listening socket")?;
        Ok(AsyncListener { fd, listener })
    }

    /// The bound address (for TCP, with the real port when bound to port 0).
    pub fn local_addr(&self) -> &crate::socket::Address {
        self.listener.local_addr()
    }

    /// Waits for the next client and authenticates it. Cancel safe: a client is only
    /// taken off the queue together with the start of its handshake, which then runs to
    /// its end on the blocking pool even if this future is dropped (that client is then
    /// closed). [`Error::Auth`] for a client that fails the handshake; the listener stays
    /// usable.
    pub async fn accept(&self) -> Result<AsyncConnection> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| Error::io("wait for a client", e))?;
            match self
                .listener
                .accept_stream(Deadline::after(Duration::ZERO))?
            {
                Some(stream) => {
                    guard.retain_ready();
                    let pending = self.listener.pending(stream);
                    let opts = self.listener.opts.clone();
                    let conn = tokio::task::spawn_blocking(move || pending.authenticate())
                        .await
                        .map_err(|e| Error::io("handshake task", std::io::Error::other(e)))??;
                    return AsyncConnection::from_blocking(conn, &opts);
                }
                None => guard.clear_ready(),
            }
        }
    }
}
