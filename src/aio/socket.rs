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
//! use ipcring::aio::socket::{AsyncConnection, AsyncListener};
//! use ipcring::aio::{AsyncReceiver, AsyncSender};
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

use crate::aio::watched::{StableFd, Watched};

use crate::aio::{AsyncReceiver, AsyncSender};
use crate::socket::{Connection, Listener, SocketOptions, Stream, ToAddress};
use crate::sys::socket::{recv_some, send_dontwait};
use crate::{Error, Result, TryRecvError, TrySendError};

/// Bytes read from the socket per `recv`; many small frames are parsed out of one read.
const RBUF: usize = 64 * 1024;
/// Largest length that fits the 4-byte signed header.
const MAX_SHORT: usize = 0x7fff_ffff;

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

fn encode_header(len: usize, out: &mut Vec<u8>) {
    if len > MAX_SHORT {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.extend_from_slice(&(len as u64).to_be_bytes());
    } else {
        out.extend_from_slice(&(len as i32).to_be_bytes());
    }
}

fn would_block() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::WouldBlock)
}

/// The sending half of an [`AsyncConnection`].
///
/// ```no_run
/// # use ipcring::aio::socket::AsyncConnection;
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
        match e.raw_os_error() {
            Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN) => {
                self.gone = true;
                Error::Disconnected
            }
            _ => Error::io("send", e),
        }
    }

    /// Writes what is left of a frame that an earlier (cancelled) send started. Cancel
    /// safe: progress is kept in the sender.
    ///
    /// ```no_run
    /// # use ipcring::aio::socket::AsyncConnection;
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
    /// # use ipcring::aio::socket::AsyncConnection;
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

    fn frame(&self, msg: &[u8]) -> Result<Vec<u8>> {
        if self.gone {
            return Err(Error::Disconnected);
        }
        if msg.len() > self.max_frame {
            return Err(Error::MessageTooLarge {
                len: msg.len(),
                max: self.max_frame,
            });
        }
        let mut frame = Vec::with_capacity(msg.len() + 12);
        encode_header(msg.len(), &mut frame);
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
                    self.sent += 1;
                    if n < frame.len() {
                        self.pending = frame;
                        self.pos = n;
                    }
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
                self.sent += 1;
                if n < frame.len() {
                    self.pending = frame;
                    self.pos = n;
                    self.flush_now()?;
                }
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

impl AsyncSender for AsyncSocketSender {
    async fn send(&mut self, msg: &[u8]) -> Result<()> {
        AsyncSocketSender::send(self, msg).await
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        AsyncSocketSender::try_send(self, msg)
    }
    fn max_message(&self) -> usize {
        self.max_frame
    }
}

/// The receiving half of an [`AsyncConnection`].
///
/// ```no_run
/// # use ipcring::aio::socket::AsyncConnection;
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
    /// Bytes read but not parsed yet: `rbuf[start..end]`.
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The announced length of the frame being received, once its header is parsed.
    want: Option<usize>,
    /// Its payload so far; grows with the bytes that arrive, never by the announced length.
    payload: Vec<u8>,
    closed: bool,
}

impl AsyncSocketReceiver {
    fn new(io: Io, max_frame: usize, leftover: Vec<u8>, closed: bool) -> AsyncSocketReceiver {
        let mut rbuf = vec![0u8; RBUF.max(leftover.len())].into_boxed_slice();
        rbuf[..leftover.len()].copy_from_slice(&leftover);
        AsyncSocketReceiver {
            io,
            max_frame,
            rbuf,
            start: 0,
            end: leftover.len(),
            want: None,
            payload: Vec::new(),
            closed,
        }
    }

    /// Takes a whole frame out of the buffer if it is all there (no I/O).
    fn parse(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if self.closed {
            return Err(Error::Disconnected);
        }
        if self.want.is_none() {
            let avail = &self.rbuf[self.start..self.end];
            if avail.len() < 4 {
                return Ok(false);
            }
            let short = i32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]);
            let (len, used) = if short >= 0 {
                (short as u64, 4)
            } else if short == -1 {
                if avail.len() < 12 {
                    return Ok(false);
                }
                let mut l = [0u8; 8];
                l.copy_from_slice(&avail[4..12]);
                (u64::from_be_bytes(l), 12)
            } else {
                self.closed = true;
                return Err(Error::Framing(
                    format!("negative length {short} in a frame header").into(),
                ));
            };
            if len > self.max_frame as u64 {
                self.closed = true;
                return Err(Error::MessageTooLarge {
                    len: usize::try_from(len).unwrap_or(usize::MAX),
                    max: self.max_frame,
                });
            }
            self.start += used;
            self.want = Some(len as usize);
            self.payload.clear();
        }
        if let Some(len) = self.want {
            let take = (len - self.payload.len()).min(self.end - self.start);
            self.payload
                .extend_from_slice(&self.rbuf[self.start..self.start + take]);
            self.start += take;
            if self.payload.len() == len {
                self.want = None;
                out.clear();
                std::mem::swap(out, &mut self.payload);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Makes room at the end of the buffer for the next read.
    fn compact(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.rbuf.len() - self.end < 12 {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    fn eof(&mut self) -> Error {
        self.closed = true;
        if self.want.is_some() || self.end > self.start {
            Error::Framing("the peer closed the connection in the middle of a frame".into())
        } else {
            Error::Disconnected
        }
    }

    /// One read result: `Ok(true)` bytes arrived, `Ok(false)` none now.
    fn absorb(&mut self, r: std::io::Result<Option<usize>>) -> Result<bool> {
        match r {
            Ok(Some(0)) => Err(self.eof()),
            Ok(Some(n)) => {
                self.end += n;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => Err(self.eof()),
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
            self.compact();
            let io = self.io.clone();
            let mut guard = io
                .readable()
                .await
                .map_err(|e| Error::io("wait for bytes on the socket", e))?;
            let end = self.end;
            let r = guard.try_io(|fd| {
                recv_some(fd.get_ref().as_raw_fd(), &mut self.rbuf[end..], true)?
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
            self.compact();
            let r = recv_some(
                self.io.get_ref().as_raw_fd(),
                &mut self.rbuf[self.end..],
                true,
            );
            if !self.absorb(r)? {
                buf.clear();
                return Err(TryRecvError::Empty);
            }
        }
    }
}

impl AsyncReceiver for AsyncSocketReceiver {
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        AsyncSocketReceiver::recv_into(self, buf).await
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        AsyncSocketReceiver::try_recv_into(self, buf)
    }
}

/// A connected, authenticated socket for tokio: sends and receives whole messages.
///
/// ```no_run
/// use ipcring::aio::socket::AsyncConnection;
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
        let stream = tx.into_async_parts()?;
        let (_same, leftover, closed) = rx.into_async_parts();
        drop(_same);
        let io = register(stream)?;
        let max_frame = opts.get_max_frame();
        Ok(AsyncConnection {
            tx: AsyncSocketSender {
                io: io.clone(),
                max_frame,
                pending: Vec::new(),
                pos: 0,
                sent: 0,
                gone: false,
            },
            rx: AsyncSocketReceiver::new(io, max_frame, leftover, closed),
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

impl AsyncSender for AsyncConnection {
    async fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.tx.send(msg).await
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.tx.try_send(msg)
    }
    fn max_message(&self) -> usize {
        self.tx.max_frame
    }
}

impl AsyncReceiver for AsyncConnection {
    async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        self.rx.recv_into(buf).await
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        self.rx.try_recv_into(buf)
    }
}

/// A listener for tokio: waits for clients on readiness, authenticates each on the
/// blocking pool (bounded by the handshake timeout), and yields [`AsyncConnection`]s.
///
/// ```no_run
/// use ipcring::aio::socket::AsyncListener;
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
        // One `dup`, once: the registration owns the descriptor it watches.
        let dup = listener
            .listen_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("dup the listening socket", e))?;
        let fd = Watched::register(dup)
            .map_err(|e| Error::io("register the listener with the tokio reactor", e.into()))?;
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
            match self.listener.try_accept_pending()? {
                Some(pending) => {
                    guard.retain_ready();
                    let opts = self.listener.options().clone();
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
